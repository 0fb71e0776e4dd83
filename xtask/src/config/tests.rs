use super::*;

fn parse(body: &str) -> Result<Config> {
    let text = format!("[workspace]\nmembers = [\"xtask\"]\n\n[workspace.metadata.wheels]\n{body}");
    Config::parse(&text, Utf8Path::new("/repo/Cargo.toml"))
}

fn err(body: &str) -> String {
    format!("{:#}", parse(body).unwrap_err())
}

#[test]
fn no_section_means_defaults() {
    let config = Config::parse("[workspace]\n", Utf8Path::new("/repo/Cargo.toml")).unwrap();
    assert_eq!(
        config,
        Config {
            file: "/repo/Cargo.toml".into(),
            dir: "/repo".into(),
            ..Config::default()
        }
    );
    assert_eq!(parse("").unwrap(), config);
}

#[test]
fn every_key() {
    let config = parse(
        r#"
root = "src"
package = "python-package"
include = ["python-extension", "README.md"]
out = "wheels"
arch = ["x86_64", "arm64"]
python = ["cp311", "pp39"]
build-isolation = false
pip-cache = true
secret-env = ["TOKEN"]
pre-build = ["make", "PY={py}", "ARCH={arch}"]
post-build = ["make", "clean"]
pure-wheel = "skip"
qemu-image = "tonistiigi/binfmt"
build-frontend = "build[uv]; args: --verbose"
[workspace.metadata.wheels.arch-names]
aarch64 = "arm64"
[workspace.metadata.wheels.input-dirs]
IMAGICK_LIB_PATH = "../imagemagick"
[workspace.metadata.wheels.env]
TOKEN = "s3cret"
MODE = "release"
[workspace.metadata.wheels.images]
x86_64 = "manylinux_x64:latest"
aarch64 = "manylinux_aarch64:latest"
[workspace.metadata.wheels.plat]
aarch64 = "manylinux2014_aarch64"
[workspace.metadata.wheels.arm-image]
tag = "arm:1"
[workspace.metadata.wheels.x64-image]
base = "quay.io/pypa/manylinux_2_28_x86_64"
packages = []
"#,
    )
    .unwrap();
    assert_eq!(config.root, "src");
    assert_eq!(config.package, "python-package");
    assert_eq!(
        config.steps.frontend,
        Frontend {
            name: "build[uv]".into(),
            args: vec!["--verbose".into()]
        }
    );
    assert_eq!(
        config.include,
        vec![Utf8PathBuf::from("python-extension"), "README.md".into()]
    );
    assert_eq!(config.out, "wheels");
    assert_eq!(config.arch, vec![Arch::X86_64, Arch::Aarch64]);
    assert_eq!(config.python.to_string(), "cp311,pp39");
    assert!(!config.build_isolation);
    assert!(config.pip_cache);
    assert_eq!(
        config.env,
        vec![
            ("MODE".into(), "release".into()),
            ("TOKEN".into(), "s3cret".into())
        ]
    );
    assert_eq!(config.secret_env, vec!["TOKEN"]);
    assert_eq!(config.pre_build, vec!["make", "PY={py}", "ARCH={arch}"]);
    assert_eq!(config.post_build, vec!["make", "clean"]);
    assert_eq!(config.pure_wheel, PureWheel::Skip);
    assert_eq!(config.arch_names[Arch::X86_64 as usize], None);
    assert_eq!(
        config.arch_names[Arch::Aarch64 as usize],
        Some("arm64".to_string())
    );
    assert_eq!(
        config.input_dirs,
        vec![(
            "IMAGICK_LIB_PATH".to_string(),
            "/repo/../imagemagick".into()
        )]
    );
    assert_eq!(config.images.get(Arch::X86_64), "manylinux_x64:latest");
    assert_eq!(config.images.get(Arch::Aarch64), "manylinux_aarch64:latest");
    assert_eq!(config.plat(Arch::X86_64), None);
    assert_eq!(config.plat(Arch::Aarch64), Some("manylinux2014_aarch64"));
    assert_eq!(config.arm_image.tag, "arm:1");
    assert_eq!(
        config.arm_image.base,
        images::image("manylinux2014_aarch64")
    );
    assert_eq!(config.x64_image.base, "quay.io/pypa/manylinux_2_28_x86_64");
    assert!(config.x64_image.packages.is_empty());
    assert_eq!(config.qemu_image, "tonistiigi/binfmt");
}

#[test]
fn python_as_one_string() {
    assert_eq!(parse("python = \"all\"").unwrap().python, Selection::All);
    assert_eq!(
        parse("python = \"cp311,pp39\"").unwrap().python.to_string(),
        "cp311,pp39"
    );
}

#[test]
fn engines_and_selectors() {
    let config = parse(
        r#"
container-args = ["--ulimit", "nproc=1024:1024"]
build = "cp31?-* pp*"
skip = ["*-manylinux_aarch64"]
[workspace.metadata.wheels.engines]
aarch64 = "ssh://me@arm-box:2222"
"#,
    )
    .unwrap();
    assert_eq!(config.engine(Arch::X86_64), &EngineSpec::Default);
    assert_eq!(
        config.engine(Arch::Aarch64),
        &EngineSpec::Host("ssh://me@arm-box:2222".into())
    );
    assert_eq!(config.container_args, ["--ulimit", "nproc=1024:1024"]);
    assert_eq!(config.build.to_string(), "cp31?-* pp*");
    assert_eq!(config.skip.to_string(), "*-manylinux_aarch64");

    let mut config = config;
    config
        .set_engines(&["arm64=podman".into(), "x86_64=unix:///run/d2.sock".into()])
        .unwrap();
    assert_eq!(config.engine(Arch::Aarch64), &EngineSpec::Podman(None));
    for (flag, says) in [
        ("aarch64", "--engine `aarch64` has no `=`"),
        (
            "sparc=podman",
            "--engine `sparc=podman`: unknown arch `sparc`",
        ),
        (
            "aarch64=http://x",
            "--engine `aarch64=http://x`: engine `http://x` is not an engine URL",
        ),
    ] {
        let e = config.set_engines(&[flag.into()]).unwrap_err().to_string();
        assert!(e.starts_with(says), "{e}");
    }
    assert_eq!(
        err("[workspace.metadata.wheels.engines]\naarch64 = \"a b\""),
        "`workspace.metadata.wheels.engines.aarch64` in /repo/Cargo.toml: engine `a b` is neither a Docker context name nor an engine URL: give a context (`docker context ls`), unix://, tcp://, ssh://user@host, or podman"
    );
    assert!(err("build = \"cp3{1-*\"").starts_with("`workspace.metadata.wheels.build` in /repo/Cargo.toml: pattern `cp3{1-*` has unbalanced braces"));
}

#[test]
fn unknown_keys_are_named() {
    assert_eq!(
        err("packages = \"x\""),
        "unknown key `workspace.metadata.wheels.packages` in /repo/Cargo.toml: known keys here are root, package, include, out, arch, libc, python, build-isolation, pip-cache, ccache, native-compiler, cross-environment, build-jobs, pure-wheel, env, secret-env, pre-build, post-build, arch-names, input-dirs, images, musllinux-images, plat, arm-image, x64-image, engines, container-args, build, skip, test-command, test-requires, test-sources, before-build, test-skip, qemu-image, build-frontend"
    );
    assert!(err("[workspace.metadata.wheels.images]\narm64 = \"x\"")
        .starts_with("unknown key `workspace.metadata.wheels.images.arm64` in /repo/Cargo.toml"));
    assert!(err("[workspace.metadata.wheels.arm-image]\nbse = \"x\"")
        .starts_with("unknown key `workspace.metadata.wheels.arm-image.bse`"));
}

#[test]
fn wrong_types_are_named() {
    assert_eq!(
        err("include = \"README.md\""),
        "`workspace.metadata.wheels.include` in /repo/Cargo.toml: must be a list of strings, not a string"
    );
    assert_eq!(
        err("include = [1]"),
        "`workspace.metadata.wheels.include` in /repo/Cargo.toml: must be a list of strings, not an integer"
    );
    assert_eq!(
        err("build-isolation = \"no\""),
        "`workspace.metadata.wheels.build-isolation` in /repo/Cargo.toml: must be true or false, not a string"
    );
    assert_eq!(
        err("images = 3"),
        "`workspace.metadata.wheels.images` in /repo/Cargo.toml must be a table, not an integer"
    );
    assert_eq!(
        err("[workspace.metadata.wheels.env]\nN = 1"),
        "`workspace.metadata.wheels.env.N` in /repo/Cargo.toml: must be a string, not an integer"
    );
}

#[test]
fn invalid_values_are_named() {
    assert!(err("arch = [\"sparc\"]")
        .starts_with("`workspace.metadata.wheels.arch` in /repo/Cargo.toml: unknown arch `sparc`"));
    assert!(err("python = [\"cp3.12\"]").contains(
        "`workspace.metadata.wheels.python` in /repo/Cargo.toml: invalid interpreter tag `cp3.12`"
    ));
    assert!(err("python = []").contains("empty interpreter list"));
    assert!(err("package = \"\"")
        .contains("`workspace.metadata.wheels.package` in /repo/Cargo.toml: is empty"));
    assert!(err("pre-build = []").contains("`workspace.metadata.wheels.pre-build`"));
    assert_eq!(
        err("build-frontend = \"flit\""),
        "`workspace.metadata.wheels.build-frontend` in /repo/Cargo.toml: `flit` is not a frontend this tool runs on Linux: use build, build[uv] or pip"
    );
    assert!(
        err("[workspace.metadata.wheels.env]\nAUDITWHEEL_PLAT = \"x\"")
            .contains("cannot be overridden")
    );
    assert!(err("[workspace.metadata.wheels.env]\n\"A B\" = \"x\"")
        .contains("not a valid environment variable name"));
    assert!(Config::parse("[workspace", Utf8Path::new("/r/Cargo.toml"))
        .unwrap_err()
        .to_string()
        .starts_with("/r/Cargo.toml is not valid TOML"));
}

#[test]
fn env_names() {
    check_env_name("CFLAGS").unwrap();
    check_env_name("_X1").unwrap();
    assert!(check_env_name("1X").is_err());
    assert!(check_env_name("").is_err());
    assert!(check_env_name("PATH")
        .unwrap_err()
        .to_string()
        .contains("`PATH`"));
    assert!(check_env_name("XTASK_RUN").is_err());
}
