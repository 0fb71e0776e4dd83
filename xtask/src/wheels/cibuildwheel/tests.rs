use super::*;

fn package(text: &str) -> camino::Utf8PathBuf {
    let dir = camino::Utf8PathBuf::from_path_buf(std::env::temp_dir())
        .unwrap()
        .join(format!(
            "xtask-cibw-{}-{}",
            crate::util::run_id(),
            distance(text, "")
        ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pyproject.toml"), text).unwrap();
    dir
}

#[test]
fn a_table_brings_cibuildwheel_4s_images_and_musllinux() {
    let dir = package(
        r#"[tool.cibuildwheel]
musllinux-aarch64-image = "ghcr.io/me/musl:1"
enable = ["cpython-freethreading", "pypy"]
"#,
    );
    let (c, account) = adopt(&Config::default(), &dir).unwrap();
    // Each pinned (tag and digest), as cibuildwheel pins its defaults.
    let images: Vec<&str> = Arch::ALL
        .iter()
        .map(|&a| c.image(a, Libc::Glibc))
        .inspect(|i| assert!(crate::images::listing(i).is_some(), "{i} is not pinned"))
        .map(|i| i.split(':').next().unwrap())
        .collect();
    assert_eq!(
        images,
        [
            "quay.io/pypa/manylinux_2_28_x86_64",
            "quay.io/pypa/manylinux_2_28_i686",
            "quay.io/pypa/manylinux_2_28_aarch64",
            "quay.io/pypa/manylinux_2_28_ppc64le",
            "quay.io/pypa/manylinux_2_28_s390x",
            "quay.io/pypa/manylinux_2_31_armv7l",
            "quay.io/pypa/manylinux_2_39_riscv64",
        ]
    );
    assert_eq!(c.image(Arch::Aarch64, Libc::Musl), "ghcr.io/me/musl:1");
    assert_eq!(
        c.image(Arch::X86_64, Libc::Musl),
        crate::images::image("musllinux_1_2_x86_64")
    );
    assert_eq!(c.libc, [Libc::Glibc, Libc::Musl]);
    assert_eq!(c.steps.enable.as_deref(), Some(&["pypy".to_string()][..]));
    let lines = account.lines();
    assert!(
        lines[0].ends_with("cibuildwheel 4's defaults, its manylinux_2_28 images (armv7l manylinux_2_31, riscv64 manylinux_2_39), musllinux wheels beside manylinux ones"),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l == "[tool.cibuildwheel] enable `cpython-freethreading`: not used here (obsolete: it enabled free-threaded CPython 3.13t, which cibuildwheel 4 builds no more; 3.14t and later are built without it)"),
        "{lines:?}"
    );
    // What the configuration file sets wins over cibuildwheel's defaults.
    let ours = Config {
        given: vec!["images".into(), "libc".into()],
        ..Config::default()
    };
    let (c, account) = adopt(&ours, &dir).unwrap();
    assert_eq!(
        c.image(Arch::X86_64, Libc::Glibc),
        crate::images::image("manylinux2014_x86_64")
    );
    assert_eq!(c.libc, [Libc::Glibc]);
    assert_eq!(account.defaults, None);
    // Without a table, this tool's own defaults.
    let plain = package("[project]\nname = \"plain\"\n");
    let (c, _) = adopt(&Config::default(), &plain).unwrap();
    assert_eq!(c, Config::default());
}

#[test]
fn a_key_set_per_build_is_one_this_tool_takes() {
    for key in KEYS {
        if key.scope == Scope::PerBuild {
            assert!(matches!(key.used, Use::Ours(_)), "{}", key.name);
        }
        let named = KEYS.iter().filter(|k| k.name == key.name).count();
        assert_eq!(named, 1, "{} is named {named} times", key.name);
    }
}

#[test]
fn every_key_is_adopted_or_named() {
    let dir = package(
        r#"[tool.cibuildwheel]
build = ["cp312-*", "cp313-*"]
skip = "*-manylinux_aarch64"
environment = 'FLAG=1 NAME="two words" PATH=$PATH:/opt/tool/bin LIBS="$(pkg-config --libs z)"'
test-command = "pytest {project}/tests"
test-requires = ["pytest", "numpy"]
test-groups = ["test"]
before-build = "make prepare"
before-all = "yum install -y libffi-devel"
archs = "auto"
test-comand = "typo"
container-engine = "podman"
musllinux-x86_64-image = "musllinux_1_1"
manylinux-x86_64-image = "manylinux_2_28"
build-frontend = "build; args: --quiet"
config-settings = { "cmake.verbose" = "true", "setup-args" = ["-Da=1", "-Db=2"] }
repair-wheel-command = "auditwheel repair --exclude libz.so.1 -w {dest_dir} {wheel}"

[dependency-groups]
test = ["pytest-cov", { include-group = "more" }]
more = ["hypothesis"]

[tool.cibuildwheel.macos]
archs = "universal2"

[tool.cibuildwheel.linux]
test-skip = "pp*"
before-build = ["make a", "make b"]

[[tool.cibuildwheel.overrides]]
select = "cp313-*"
inherit.before-build = "append"
before-build = "echo 313"
archs = "aarch64"
environment = { ONLY = "313" }
"#,
    );
    let config = Config {
        given: vec!["skip".into()],
        ..Config::default()
    };
    let (c, account) = adopt(&config, &dir).unwrap();
    assert_eq!(
        account.adopted,
        [
            "build",
            "archs",
            "environment",
            "before-all",
            "before-build",
            "test-command",
            "test-requires",
            "test-skip",
            "test-groups",
            "config-settings",
            "build-frontend",
            "repair-wheel-command",
            "manylinux-x86_64-image",
            "musllinux-x86_64-image"
        ]
    );
    assert_eq!(c.build.to_string(), "cp312-* cp313-*");
    assert!(c.skip.is_empty(), "skip is set by our own file");
    // auto: this machine's arch, and i686 beside x86_64.
    let mut auto: Vec<Arch> = Arch::host().into_iter().collect();
    if auto == [Arch::X86_64] {
        auto.push(Arch::I686);
    }
    assert_eq!(c.arch, auto);
    assert_eq!(
        c.env,
        [
            ("FLAG".to_string(), "1".to_string()),
            ("NAME".to_string(), "two words".to_string())
        ]
    );
    assert_eq!(
        c.steps.env_eval,
        [
            ("PATH".to_string(), "$PATH:/opt/tool/bin".to_string()),
            ("LIBS".to_string(), "\"$(pkg-config --libs z)\"".to_string())
        ]
    );
    assert_eq!(c.before_build.as_deref(), Some("make a && make b"));
    assert_eq!(
        c.steps.before_all.as_deref(),
        Some("yum install -y libffi-devel")
    );
    assert_eq!(c.test.command.as_deref(), Some("pytest {project}/tests"));
    assert_eq!(
        c.test.requires,
        ["pytest", "numpy", "pytest-cov", "hypothesis"]
    );
    assert!(c.test.skip.matches("pp311-manylinux_x86_64"));
    assert_eq!(
        c.images.get(Arch::X86_64),
        crate::images::image("manylinux_2_28_x86_64")
    );
    assert_eq!(
        c.musllinux_images.get(Arch::X86_64),
        "quay.io/pypa/musllinux_1_1_x86_64"
    );
    assert_eq!(
        c.steps.config_settings,
        ["cmake.verbose=true", "setup-args=-Da=1", "setup-args=-Db=2"]
    );
    assert_eq!(c.steps.frontend.args, ["--quiet"]);
    assert_eq!(
        c.steps.repair_command.as_deref(),
        Some("auditwheel repair --exclude libz.so.1 -w {dest_dir} {wheel}")
    );
    let lines = account.lines().join("\n");
    for want in [
        "[tool.cibuildwheel] container-engine: not used here (the engine of each arch",
        "[tool.cibuildwheel] macos: not used here (another platform's table",
        "taken from [tool.cibuildwheel] overrides[0] (select `cp313-*`): before-build, environment, for the builds it selects",
        "[tool.cibuildwheel] overrides[0] (select `cp313-*`) archs: not used here (an override changes it for some builds only",
        "is not a cibuildwheel option; did you mean `test-command`?",
    ] {
        assert!(lines.contains(want), "{want:?} in:\n{lines}");
    }
    assert!(
        lines.contains("warning: [tool.cibuildwheel] test-comand in "),
        "{lines}"
    );
    let [o] = c.overrides.as_slice() else {
        panic!("{:?}", c.overrides)
    };
    assert!(o.select.matches("cp313-manylinux_x86_64"));
    assert_eq!(
        o.keys,
        [
            ("before-build".to_string(), Inherit::Append),
            ("environment".to_string(), Inherit::None)
        ]
    );
    assert_eq!(o.settings.before_build.as_deref(), Some("echo 313"));
    assert_eq!(o.settings.env, [("ONLY".to_string(), "313".to_string())]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn wrong_types_and_values_name_the_key_and_the_file() {
    for (text, want) in [
        ("build-verbosity = \"loud\"", "build-verbosity in "),
        ("test-requires = 3", "test-requires in "),
        ("environment = \"CFLAGS='-O2 -g\"", "unclosed quote"),
        ("archs = \"sparc\"", "`sparc` is not an arch cibuildwheel knows on Linux"),
        ("build-frontend = \"hatch\"", "not a frontend"),
        ("[[tool.cibuildwheel.overrides]]\nbefore-build = \"x\"", "overrides[0] in "),
        ("[[tool.cibuildwheel.overrides]]\nselect = \"*\"\ninherit.before-build = \"later\"\nbefore-build = \"x\"", "`later` is not none, prepend or append"),
        ("linux = 3", "linux in "),
        ("test-groups = [\"nope\"]", "no dependency group `nope`"),
    ] {
        let dir = package(&format!("[tool.cibuildwheel]\n{text}\n"));
        let e = adopt(&Config::default(), &dir).unwrap_err();
        assert!(e.contains(want), "{text}: {e}");
        assert!(e.contains("pyproject.toml"), "{text}: {e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// Tables shaped as real projects write them (the keys counted over 35
/// well-known native packages, platform tables, dotted keys, inline
/// overrides, `$VAR` values, keys of other platforms and older versions):
/// every key is taken or named, and only the typo is unknown.
#[test]
fn a_corpus_of_real_world_tables_is_accounted_for() {
    let corpus: &[&str] = &[
        r#"[tool.cibuildwheel]
skip = ["*-musllinux*", "pp*"]
test-command = ["python {project}/tests/runner.py", "python {project}/tests/leaks.py"]
test-extras = "test"
[tool.cibuildwheel.macos]
archs = ["arm64", "x86_64"]"#,
        r#"[tool.cibuildwheel]
build = "cp3*"
build-verbosity = 1
test-requires = ["pytest", "hypothesis"]
test-command = "pytest {package}/tests"
[tool.cibuildwheel.linux]
before-all = "yum install -y libffi-devel || apk add libffi-dev"
environment = { CFLAGS = "-O2", PATH = "$PATH:/usr/local/bin" }
repair-wheel-command = "auditwheel repair --exclude libcuda.so.1 -w {dest_dir} {wheel}"
manylinux-x86_64-image = "manylinux_2_28"
manylinux-aarch64-image = "manylinux_2_28"
musllinux-x86_64-image = "musllinux_1_2"
[tool.cibuildwheel.windows]
before-build = "pip install delvewheel"
repair-wheel-command = "delvewheel repair -w {dest_dir} {wheel}""#,
        r#"[tool.cibuildwheel]
enable = ["pypy", "pypy-eol"]
test-skip = ["*-macosx_arm64", "pp*"]
build-frontend = "build[uv]"
config-settings = { "setup-args" = ["-Dallow-noblas=true"], "build-dir" = "build" }
macos.config-settings = { "setup-args" = ["-Dblas=accelerate"] }
overrides = [
  { select = "*-manylinux*", environment = { PATH = "$PATH:/opt/tool/bin" }, inherit.environment = "append" },
  { select = "cp313t-*", test-command = "pytest -p no:cacheprovider {project}/tests" },
]"#,
        r#"[tool.cibuildwheel]
before-build = ["pip install cython", "python {project}/tools/prepare.py"]
environment = "LDFLAGS=\"-Wl,--strip-all\" OPENSSL_DIR=/usr/local/ssl"
environment-pass = ["CI", "GITHUB_SHA"]
test-sources = ["tests", "conftest.py"]
test-groups = ["test"]
dependency-versions = "latest"
container-engine = "docker; create_args: --memory=8g"
archs = ["auto64"]
[dependency-groups]
test = ["pytest"]
[tool.cibuildwheel.pyodide]
build-frontend = "pyodide-build"
[tool.cibuildwheel.ios]
xbuild-tools = ["cmake"]
[[tool.cibuildwheel.overrides]]
select = "pp*"
before-test = "pip install numpy"
manylinux-x86_64-image = "manylinux2014"
test-comand = "pytest""#,
    ];
    let mut accounted = 0;
    for (n, text) in corpus.iter().enumerate() {
        let dir = package(text);
        let (_, account) = adopt(&Config::default(), &dir).unwrap_or_else(|e| panic!("{n}: {e}"));
        let lines = account.lines().join("\n");
        let doc: toml::Table = text.parse().unwrap();
        let cibw = doc["tool"]["cibuildwheel"].as_table().unwrap();
        let named = |key: &str| {
            account.adopted.iter().any(|a| a == key)
                || account
                    .unused
                    .iter()
                    .any(|(k, _)| k == key || k.ends_with(&format!(") {key}")))
                || account.overrides.iter().any(|o| o.contains(key))
        };
        for (key, value) in cibw {
            match (key.as_str(), value) {
                ("linux", toml::Value::Table(t)) => {
                    for k in t.keys() {
                        assert!(
                            named(k) || named(&format!("linux.{k}")),
                            "{n}: linux.{k} is neither taken nor named:\n{lines}"
                        );
                    }
                }
                ("overrides", toml::Value::Array(entries)) => {
                    for e in entries {
                        for k in e
                            .as_table()
                            .unwrap()
                            .keys()
                            .filter(|k| *k != "select" && *k != "inherit")
                        {
                            let typo = k == "test-comand";
                            assert!(
                                named(k) || (typo && lines.contains("did you mean `test-command`")),
                                "{n}: overrides {k}:\n{lines}"
                            );
                        }
                    }
                }
                (key, _) => assert!(
                    named(key),
                    "{n}: {key} is neither taken nor named:\n{lines}"
                ),
            }
        }
        assert_eq!(
            account.unknown.len(),
            usize::from(text.contains("test-comand")),
            "{n}: {lines}"
        );
        // build[uv] is taken: the native uv makes the environments.
        assert!(!lines.contains("build[uv]"), "{n}: {lines}");
        accounted += 1;
        std::fs::remove_dir_all(dir).unwrap();
    }
    assert_eq!(accounted, corpus.len());
}
