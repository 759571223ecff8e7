//! The yank form body and the plain-text answers.

use packgate_rubygems::{
    GemError, NameError, parse_yank_form, push_conflict, push_ok, yank_not_found, yank_ok,
};

fn form(body: &str) -> Result<(String, String, Option<String>), GemError> {
    parse_yank_form(body.as_bytes())
}

#[test]
fn yank_forms_are_decoded() {
    let ok =
        |n: &str, v: &str, p: Option<&str>| (n.to_string(), v.to_string(), p.map(String::from));
    let cases = [
        ("gem_name=demo&version=0.1.0", ok("demo", "0.1.0", None)),
        (
            "gem_name=demo&version=0.1.0&platform=x86_64-linux",
            ok("demo", "0.1.0", Some("x86_64-linux")),
        ),
        (
            "version=1.0&gem_name=rack%2Dtest",
            ok("rack-test", "1.0", None),
        ),
        (
            "gem_name=demo&version=1.0&platform=",
            ok("demo", "1.0", None),
        ),
        (
            "gem_name=demo&version=1.0&platform=ruby",
            ok("demo", "1.0", Some("ruby")),
        ),
        (
            "gem_name=demo&version=1.0&other=x&&",
            ok("demo", "1.0", None),
        ),
        (
            "gem%5Fname=demo&version=1.0.0.pre",
            ok("demo", "1.0.0.pre", None),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(form(body).unwrap(), want, "{body}");
    }
}

#[test]
fn bad_yank_forms_are_refused() {
    let bad_form = [
        "version=1.0",
        "gem_name=demo",
        "gem_name=&version=1.0",
        "gem_name=demo&version=1.0&version=2.0",
        "gem_name=de%zzmo&version=1.0",
        "gem_name=demo%&version=1.0",
        "gem_name=%ff&version=1.0",
        "",
    ];
    for body in bad_form {
        assert!(matches!(form(body), Err(GemError::BadForm(_))), "{body}");
    }
    assert!(matches!(
        form("gem_name=a+b&version=1.0"),
        Err(GemError::Name(NameError::InvalidChar(' ')))
    ));
    assert!(matches!(
        form("gem_name=demo&version=1.0-beta"),
        Err(GemError::Name(NameError::Version { .. }))
    ));
    assert!(matches!(
        form("gem_name=demo&version=1.0&platform=..%2F..%2Fetc"),
        Err(GemError::Name(NameError::Platform { .. }))
    ));
    assert_eq!(
        form("gem_name=demo").unwrap_err().to_string(),
        "invalid yank request: version is missing"
    );
}

#[test]
fn answers_are_the_texts_gem_prints() {
    assert_eq!(
        push_ok("demo", "0.1.0", "ruby"),
        "Successfully registered gem: demo (0.1.0)"
    );
    assert_eq!(
        push_ok("demo", "0.1.0", "x86_64-linux"),
        "Successfully registered gem: demo (0.1.0-x86_64-linux)"
    );
    assert_eq!(
        push_conflict("demo", "0.1.0", "ruby"),
        "demo 0.1.0 already exists; published versions cannot be replaced (yank it instead)"
    );
    assert_eq!(
        yank_ok("demo", "0.1.0", "ruby"),
        "Successfully deleted gem: demo (0.1.0)"
    );
    assert_eq!(
        yank_not_found("0.1.0", "ruby"),
        "The version 0.1.0 does not exist."
    );
}
