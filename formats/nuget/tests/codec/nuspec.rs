//! The .nuspec reader: real-world, modern, legacy and prefixed nuspecs; DTDs and entities,
//! malformed XML, and the checks of the id, version and dependencies.

use packgate_nuget::{License, Nuspec, NuspecError, PackageType, parse_nuspec};

/// What `nuget pack` and SDK-style projects put in real nuspecs besides the fields we read:
/// `references` and `frameworkAssemblies` groups (whose `<group>` must not become a dependency
/// group), `contentFiles`, `frameworkReferences`, a signed-package-style `repository`.
#[test]
fn a_rich_real_world_nuspec_keeps_only_its_dependency_groups() {
    let xml = br#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata minClientVersion="2.12">
    <id>Rich.Package</id>
    <version>2.1.0-beta.3+sha.9f8e</version>
    <title>Rich</title>
    <authors>Alice, Bob</authors>
    <license type="expression">MIT OR Apache-2.0</license>
    <icon>images\icon.png</icon>
    <readme>docs\README.md</readme>
    <description>Has everything.</description>
    <releaseNotes>Fixes &amp; more &lt;3</releaseNotes>
    <copyright>&#169; Alice</copyright>
    <tags>one two,three</tags>
    <serviceable>true</serviceable>
    <repository type="git" url="https://example.test/rich.git" branch="main" commit="abc123" />
    <packageTypes><packageType name="Dependency" /></packageTypes>
    <dependencies>
      <group targetFramework=".NETFramework4.7.2">
        <dependency id="Other.Lib" version="[1.0.0, 2.0.0)" exclude="Build,Analyzers" />
      </group>
      <group targetFramework="net8.0" />
    </dependencies>
    <references>
      <group targetFramework="net472"><reference file="Rich.dll" /></group>
    </references>
    <frameworkAssemblies>
      <frameworkAssembly assemblyName="System.Net.Http" targetFramework=".NETFramework4.7.2" />
    </frameworkAssemblies>
    <frameworkReferences>
      <group targetFramework="net8.0"><frameworkReference name="Microsoft.AspNetCore.App" /></group>
    </frameworkReferences>
    <contentFiles>
      <files include="any/any/config.json" buildAction="None" copyToOutput="true" />
    </contentFiles>
  </metadata>
  <files>
    <file src="bin\Rich.dll" target="lib\net472" />
  </files>
</package>"#;
    let n = parse_nuspec(xml).expect("parses");
    assert_eq!(n.id, "Rich.Package");
    assert_eq!(n.version, "2.1.0-beta.3+sha.9f8e");
    assert_eq!(n.min_client_version.as_deref(), Some("2.12"));
    assert_eq!(n.release_notes.as_deref(), Some("Fixes & more <3"));
    assert_eq!(n.copyright.as_deref(), Some("\u{a9} Alice"));
    assert_eq!(n.tags, ["one", "two", "three"]);
    assert!(n.serviceable);
    assert_eq!(n.authors_list(), ["Alice", "Bob"]);
    let groups: Vec<(Option<&str>, usize)> = n
        .dependency_groups
        .iter()
        .map(|g| (g.target_framework.as_deref(), g.dependencies.len()))
        .collect();
    assert_eq!(
        groups,
        [(Some(".NETFramework4.7.2"), 1), (Some("net8.0"), 0)],
        "references/frameworkReferences groups are not dependency groups"
    );
    let dep = &n.dependency_groups[0].dependencies[0];
    assert_eq!(dep.range.as_deref(), Some("[1.0.0, 2.0.0)"));
    assert_eq!(dep.exclude.as_deref(), Some("Build,Analyzers"));
    let repo = n.repository.as_ref().expect("repository");
    assert_eq!(repo.commit.as_deref(), Some("abc123"));
    assert_eq!(
        n.license.as_ref().map(|l| l.value.as_str()),
        Some("MIT OR Apache-2.0")
    );
}

const MODERN: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata minClientVersion="3.3.0">
    <id>Acme.Widget</id>
    <version>2.1.0-Beta.2+sha.abc</version>
    <title>Acme &amp; Widget</title>
    <authors>Alice, Bob ,</authors>
    <description><![CDATA[Widgets <for> all.]]></description>
    <license type="expression" version="1.0.0">MIT</license>
    <licenseUrl>https://aka.ms/deprecateLicenseUrl</licenseUrl>
    <projectUrl> https://example.test/widget </projectUrl>
    <repository type="git" url="https://example.test/widget.git" branch="main" commit="abc123" />
    <tags>widgets, tools  acme&#x21;</tags>
    <requireLicenseAcceptance>TRUE</requireLicenseAcceptance>
    <serviceable>yes</serviceable>
    <readme>docs/README.md</readme>
    <packageTypes><packageType name="DotnetTool" version="1.0" /></packageTypes>
    <dependencies>
      <group targetFramework="net8.0">
        <dependency id="Newtonsoft.Json" version="13.0.1" exclude="Build,Analyzers" />
        <dependency id="Acme.Core" version="[1.0, 2.0)" />
      </group>
      <group targetFramework=".NETStandard2.0" />
    </dependencies>
  </metadata>
  <files><file src="x" /></files>
</package>"#;

#[test]
fn modern_nuspec_reads_every_field() {
    let n = parse_nuspec(MODERN.as_bytes()).unwrap();
    assert_eq!(
        (n.id.as_str(), n.version.as_str()),
        ("Acme.Widget", "2.1.0-Beta.2+sha.abc")
    );
    assert_eq!(n.title.as_deref(), Some("Acme & Widget"));
    assert_eq!(n.authors_list(), ["Alice", "Bob"]);
    assert_eq!(n.description.as_deref(), Some("Widgets <for> all."));
    assert_eq!(
        n.project_url.as_deref(),
        Some("https://example.test/widget")
    );
    assert_eq!(n.min_client_version.as_deref(), Some("3.3.0"));
    assert_eq!(n.readme.as_deref(), Some("docs/README.md"));
    assert_eq!(
        n.license,
        Some(License {
            kind: "expression".into(),
            value: "MIT".into(),
            version: Some("1.0.0".into())
        })
    );
    let repo = n.repository.as_ref().unwrap();
    assert_eq!(
        (repo.kind.as_deref(), repo.commit.as_deref()),
        (Some("git"), Some("abc123"))
    );
    assert_eq!(n.tags, ["widgets", "tools", "acme!"]);
    assert!(n.require_license_acceptance && !n.serviceable && !n.development_dependency);
    assert_eq!(
        n.package_types,
        [PackageType {
            name: "DotnetTool".into(),
            version: Some("1.0".into())
        }]
    );
    assert!(!n.is_symbols_package());
    assert_eq!(n.dependency_groups.len(), 2);
    let net8 = &n.dependency_groups[0];
    assert_eq!(net8.target_framework.as_deref(), Some("net8.0"));
    assert_eq!(net8.dependencies[0].range.as_deref(), Some("13.0.1"));
    assert_eq!(
        net8.dependencies[0].exclude.as_deref(),
        Some("Build,Analyzers")
    );
    assert_eq!(net8.dependencies[1].id, "Acme.Core");
    let empty = &n.dependency_groups[1];
    assert_eq!(empty.target_framework.as_deref(), Some(".NETStandard2.0"));
    assert!(empty.dependencies.is_empty(), "empty groups are kept");
    // Stored as JSON and read back, also from an old document with fields missing.
    let json = serde_json::to_string(&n).unwrap();
    assert_eq!(serde_json::from_str::<Nuspec>(&json).unwrap(), n);
    let old: Nuspec = serde_json::from_str(r#"{"id":"A","version":"1.0"}"#).unwrap();
    assert_eq!(old.id, "A");
}

#[test]
fn legacy_nuspec_without_namespace_has_one_flat_group() {
    let xml = "\u{feff}<package><metadata><id>Old</id><version>1.0</version>\
            <dependencies><dependency id=\"A\" version=\"1.0\"/><dependency id=\"B\"/>\
            <group targetFramework=\"net45\"><dependency id=\"C\"/></group></dependencies>\
            <packageTypes><packageType name=\"SymbolsPackage\"/></packageTypes></metadata></package>";
    let n = parse_nuspec(xml.as_bytes()).unwrap();
    assert_eq!(n.description, None);
    let mixed = "<package><metadata><id>X</id><version>1</version>\
            <description>abc<b>x</b> <br/>def</description></metadata></package>";
    let m = parse_nuspec(mixed.as_bytes()).unwrap();
    assert_eq!(
        m.description.as_deref(),
        Some("abc def"),
        "only direct text is kept"
    );
    assert_eq!(n.dependency_groups.len(), 2);
    let flat = &n.dependency_groups[0];
    assert_eq!(flat.target_framework, None);
    let ids: Vec<_> = flat
        .dependencies
        .iter()
        .map(|d| (d.id.as_str(), d.range.as_deref()))
        .collect();
    assert_eq!(ids, [("A", Some("1.0")), ("B", None)]);
    assert_eq!(n.dependency_groups[1].dependencies[0].id, "C");
    assert!(n.is_symbols_package());
}

#[test]
fn other_namespaces_and_prefixes_read_the_same() {
    for ns in ["2010/07", "2011/08", "2012/06", "2013/01"] {
        let xml = format!(
            "<n:package xmlns:n=\"http://schemas.microsoft.com/packaging/{ns}/nuspec.xsd\">\
                 <n:metadata><n:id>X</n:id><n:version>1.0</n:version></n:metadata></n:package>"
        );
        assert_eq!(parse_nuspec(xml.as_bytes()).unwrap().id, "X", "{ns}");
    }
}

fn err(xml: &str) -> NuspecError {
    parse_nuspec(xml.as_bytes()).unwrap_err()
}

const IDV: &str = "<id>X</id><version>1.0</version>";

#[test]
fn dtd_and_entities_are_refused_without_expansion() {
    let dtd = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE package [<!ENTITY x \"y\">]><package><metadata>{IDV}</metadata></package>"
    );
    assert_eq!(err(&dtd), NuspecError::Dtd);
    let laughs = format!(
        "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">\
             <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;\">]><package><metadata>{IDV}<title>&lol3;</title></metadata></package>"
    );
    assert_eq!(err(&laughs), NuspecError::Dtd);
    let undefined = format!("<package><metadata>{IDV}<title>&foo;</title></metadata></package>");
    assert_eq!(err(&undefined), NuspecError::Entity("foo".into()));
    let in_attr = format!(
        "<package><metadata>{IDV}<dependencies><dependency id=\"&bar;\"/></dependencies></metadata></package>"
    );
    assert_eq!(err(&in_attr), NuspecError::Entity("bar".into()));
    assert_eq!(err(&dtd).reason(), err(&undefined).reason());
}

#[test]
fn malformed_xml_is_refused() {
    let cases = [
        format!("<package><metadata>{IDV}</metadatax></package>"),
        format!("<package><metadata>{IDV}</metadata></package><package/>"),
        format!("<package><metadata>{IDV}</metadata></package>trailing"),
        format!("<package><metadata>{IDV}</metadata>"),
        format!("<package><metadata>{IDV}<title a=\"1\" a=\"2\"/></metadata></package>"),
        format!("<package><metadata>{IDV}<title>a & b</title></metadata></package>"),
        format!("<nuspec><metadata>{IDV}</metadata></nuspec>"),
        String::new(),
    ];
    for xml in &cases {
        assert!(
            matches!(err(xml), NuspecError::Malformed(_)),
            "{xml}: {:?}",
            err(xml)
        );
    }
    let deep = format!(
        "<package><metadata>{IDV}{}{}</metadata></package>",
        "<a>".repeat(70),
        "</a>".repeat(70)
    );
    assert_eq!(err(&deep), NuspecError::TooDeep);
    assert_eq!(
        parse_nuspec(b"<package>\xff</package>").unwrap_err(),
        NuspecError::NotUtf8
    );
    assert_eq!(
        parse_nuspec(b"\xff\xfe<\0p\0").unwrap_err(),
        NuspecError::NotUtf8
    );
}

#[test]
fn id_version_and_dependencies_are_checked() {
    let m = |inner: &str| format!("<package><metadata>{inner}</metadata></package>");
    assert_eq!(err(&m("<version>1.0</version>")), NuspecError::MissingId);
    assert_eq!(
        err(&m("<id> </id><version>1.0</version>")),
        NuspecError::MissingId
    );
    assert_eq!(err(&m("<id>X</id>")), NuspecError::MissingVersion);
    assert!(matches!(
        err(&m("<id>a..b</id><version>1.0</version>")),
        NuspecError::Id(_)
    ));
    assert!(matches!(
        err(&m("<id>X</id><version>1.0-</version>")),
        NuspecError::Version(_)
    ));
    let dep = |attrs: &str| {
        m(&format!(
            "{IDV}<dependencies><dependency {attrs}/></dependencies>"
        ))
    };
    let e = err(&dep("id=\"Foo\" version=\"[2.0,1.0]\""));
    assert!(
        matches!(&e, NuspecError::Dependency { id, .. } if id == "Foo"),
        "{e:?}"
    );
    assert!(e.to_string().contains("'Foo'"), "{e}");
    assert!(matches!(
        err(&dep("id=\"Foo\" version=\"1.*\"")),
        NuspecError::Dependency { .. }
    ));
    assert!(matches!(
        err(&dep("version=\"1.0\"")),
        NuspecError::Dependency { .. }
    ));
    assert!(
        parse_nuspec(dep("id=\"Foo\" version=\" \"").as_bytes()).is_ok(),
        "blank = any"
    );
}
