//! The real NuGet client (NuGet.exe 5.8 on mono) through a proxy repository: `nuget install` of a
//! package with a dependency from an empty proxy cache, then again from an empty NuGet cache and
//! packages directory after the upstream is gone (served from packgate's cache alone).

use super::{UP, publish};
use crate::support::nuget_client::{NuGet, dirs_starting_with, installed_nupkg, served_requests};
use crate::support::proxy::ProxyRig;
use packgate_nuget::testing::Nupkg;

#[test]
fn nuget_installs_a_package_with_a_dependency_through_the_proxy_and_again_after_the_upstream_is_gone()
 {
    crate::require_nuget!();
    let rig = ProxyRig::start("nuget", UP, "metadata_ttl = \"1s\"");
    let base = Nupkg::new("Pg.Proxy.Base", "1.2.0")
        .dep_group(Some("net472"), &[])
        .file("lib/net472/Pg.Proxy.Base.dll", b"MZ base".to_vec());
    let app = Nupkg::new("Pg.Proxy.App", "1.0.0")
        .dep_group(Some("net472"), &[("Pg.Proxy.Base", "[1.0.0, )")])
        .file("lib/net472/Pg.Proxy.App.dll", b"MZ app".to_vec());
    publish(&rig, &base);
    publish(&rig, &app);
    let source = format!("{}/{}/v3/index.json", rig.proxy.base, rig.repo);
    let check = |nuget: &NuGet| {
        let mark = served_requests(&rig.proxy).len();
        let (out, dir) = nuget.install("Pg.Proxy.App", &["-Framework", "net472"]);
        out.ok();
        assert_eq!(
            dirs_starting_with(&dir, "Pg.Proxy."),
            ["Pg.Proxy.App.1.0.0", "Pg.Proxy.Base.1.2.0"],
            "the dependency is resolved through the proxy"
        );
        assert_eq!(installed_nupkg(&dir, "Pg.Proxy.App.1.0.0"), app.bytes());
        assert_eq!(installed_nupkg(&dir, "Pg.Proxy.Base.1.2.0"), base.bytes());
        // NuGet.exe 5.8 reads registrations, then downloads from the flat container.
        let trace: Vec<_> = served_requests(&rig.proxy).into_iter().skip(mark).collect();
        for want in [
            "registration/pg.proxy.app/index.json",
            "registration/pg.proxy.base/index.json",
            "flatcontainer/pg.proxy.app/1.0.0/pg.proxy.app.1.0.0.nupkg",
            "flatcontainer/pg.proxy.base/1.2.0/pg.proxy.base.1.2.0.nupkg",
        ] {
            let want = format!("/{}/v3/{want}", rig.repo);
            assert!(
                trace
                    .iter()
                    .any(|(m, p, s)| m == "GET" && *p == want && *s == 200),
                "NuGet.exe should GET {want} from the proxy; it sent {trace:?}"
            );
        }
    };
    check(&NuGet::with_source(&source, None));
    // The upstream goes away; a new machine (empty caches and packages folder) installs again.
    rig.fault.down();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    check(&NuGet::with_source(&source, None));
}
