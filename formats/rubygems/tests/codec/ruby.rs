//! Round trips through a real Ruby: the specs file and quick spec are loaded with
//! `Gem::SafeMarshal` (RubyGems ≥ 3.4) or `Marshal` (older RubyGems, e.g. 3.3.15), and the
//! quick spec is compared with the spec RubyGems itself reads from the real `.gem`.
//! Prints `SKIP: ruby not installed` and passes when there is no `ruby`.

use std::path::PathBuf;
use std::process::Command;

use packgate_rubygems::{parse_spec, quick_spec, specs_file};

use crate::support::{demo_gem, platform_gem, spec_yaml};

/// Loads a Marshal string the way the installed RubyGems does.
const LOAD: &str = r##"
require "rubygems"
require "rubygems/package"
require "zlib"
def load_marshal(data)
  defined?(Gem::SafeMarshal) ? Gem::SafeMarshal.safe_load(data) : Marshal.load(data)
end
# Gem::Specification._load puts element 17 into @license (not @licenses), so `licenses` is
# empty after any Marshal round trip, Ruby's own dumps included; read the ivar instead.
def licenses(spec)
  Array(spec.instance_variable_get(:@license) || spec.licenses).inspect
end
def describe(spec)
  deps = spec.dependencies.map { |d| "#{d.name} #{d.type} #{d.requirement.requirements.map { |op, v| "#{op} #{v}" }.sort.join("&")}" }
  [spec.name, spec.version.to_s, spec.platform.to_s, spec.summary.to_s, spec.description.to_s,
   spec.authors.inspect, Array(spec.email).inspect, spec.homepage.to_s, licenses(spec),
   spec.metadata.sort.inspect, spec.required_ruby_version.to_s,
   spec.required_rubygems_version.to_s, *deps].join("\n")
end
"##;

/// Runs `ruby -e script args`, or `None` when Ruby is not installed.
fn ruby(script: &str, args: &[&PathBuf]) -> Option<String> {
    let output = Command::new("ruby")
        .arg("-e")
        .arg(format!("{LOAD}\n{script}"))
        .args(args)
        .output();
    let output = match output {
        Ok(o) => o,
        Err(_) => {
            println!("SKIP: ruby not installed");
            return None;
        }
    };
    assert!(
        output.status.success(),
        "ruby failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).unwrap())
}

/// A file in the temp directory, unique to this process and test.
fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("packgate-rubygems-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn ruby_loads_the_specs_file() {
    let tuples = [
        ("demo".to_string(), "0.1.0".to_string(), "ruby".to_string()),
        ("demo".into(), "0.2.0.pre".into(), "x86_64-linux".into()),
    ];
    let path = temp_file("specs.4.8.gz", &specs_file(&tuples));
    let script = r##"
      data = Zlib::GzipReader.open(ARGV[0]) { |gz| gz.read }
      load_marshal(data).each { |n, v, p| puts [n, v.class, v.to_s, v.prerelease?, p].join(" ") }
    "##;
    let out = ruby(script, &[&path]);
    std::fs::remove_file(&path).ok();
    let Some(out) = out else { return };
    assert_eq!(
        out,
        "demo Gem::Version 0.1.0 false ruby\ndemo Gem::Version 0.2.0.pre true x86_64-linux\n"
    );
}

#[test]
fn ruby_loads_the_quick_spec_as_the_spec_of_the_gem() {
    for (name, gem) in [("demo", demo_gem()), ("platform", platform_gem())] {
        let spec = parse_spec(&spec_yaml(&gem)).unwrap();
        let rz = temp_file(&format!("{name}.gemspec.rz"), &quick_spec(&spec));
        let gem_path = temp_file(&format!("{name}.gem"), &gem);
        let script = r##"
          spec = load_marshal(Zlib::Inflate.inflate(File.binread(ARGV[0])))
          raise "not a spec: #{spec.class}" unless spec.is_a?(Gem::Specification)
          real = Gem::Package.new(ARGV[1]).spec
          puts describe(spec)
          puts "--"
          puts describe(real)
          puts "--"
          puts spec.full_name, spec.original_platform.to_s, spec.runtime_dependencies.map(&:name).inspect
        "##;
        let out = ruby(script, &[&rz, &gem_path]);
        std::fs::remove_file(&rz).ok();
        std::fs::remove_file(&gem_path).ok();
        let Some(out) = out else { return };
        let parts: Vec<&str> = out.split("--\n").collect();
        assert_eq!(parts.len(), 3, "{out}");
        assert_eq!(
            parts[0], parts[1],
            "{name}: quick spec differs from the .gem's spec"
        );
        let full = match name {
            "demo" => "demo-0.1.0\nruby\n[\"rack\", \"thor\"]\n",
            _ => "native_ext-1.0.0.pre.beta-x86_64-linux\nx86_64-linux\n[\"ffi\"]\n",
        };
        assert_eq!(parts[2], full);
    }
}
