use super::*;
use crate::patterns::Patterns;
use crate::platform::Selection;
use crate::util;

/// A fresh folder tree for one test, removed when it drops (also when
/// the test fails).
struct Tree(Utf8PathBuf);

impl std::ops::Deref for Tree {
    type Target = Utf8Path;
    fn deref(&self) -> &Utf8Path {
        &self.0
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tree() -> Tree {
    let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
        .unwrap()
        .join(format!("xtask-plan-{}", util::run_id()));
    for d in ["pkg/mod", "native", "other", "pkg/notpkg"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(dir.join("pkg/pyproject.toml"), "").unwrap();
    std::fs::write(dir.join("README.md"), "").unwrap();
    Tree(dir.canonicalize_utf8().unwrap())
}

fn config(root: &Utf8Path) -> Config {
    Config {
        dir: root.to_path_buf(),
        root: ".".into(),
        package: "pkg".into(),
        include: vec!["native".into(), "README.md".into()],
        ..Config::default()
    }
}

fn plan(root: &Utf8Path, args: &[&str]) -> Result<Plan> {
    use clap::Parser;
    let mut argv = vec!["cargo xtask", "wheels"];
    argv.extend_from_slice(args);
    let flags = flags::Xtask::try_parse_from(argv)?;
    let flags::Cmd::Wheels(w) = flags.subcommand else {
        unreachable!()
    };
    Plan::new(w, &config(root), root)
}

fn err(root: &Utf8Path, args: &[&str]) -> String {
    let e = plan(root, args).unwrap_err();
    assert!(
        e.downcast_ref::<util::UsageError>().is_some(),
        "not a usage error: {e:#}"
    );
    e.to_string()
}

#[test]
fn a_secret_setting_of_pips_makes_uvs_configuration_secret() {
    let root = tree();
    let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let mut c = config(&root);
    c.secret_env = vec!["PIP_INDEX_URL".into(), "TOKEN".into()];
    let token = env(&[
        ("PIP_INDEX_URL", "https://u:t@example/simple"),
        ("TOKEN", "t"),
    ]);
    assert_eq!(
        secrets(&c, &token),
        ["PIP_INDEX_URL", "TOKEN", "XTASK_UV_CONFIG"]
    );
    // A secret that pip does not read leaves uv's configuration shown.
    assert_eq!(
        secrets(&c, &env(&[("TOKEN", "t")])),
        ["PIP_INDEX_URL", "TOKEN"]
    );
    c.secret_env.clear();
    assert!(secrets(&c, &token).is_empty());
}

#[test]
fn the_stand_ins_leave_out_the_libcs_they_lack_unless_asked_by_name() {
    let root = tree();
    let mut c = config(&root);
    c.libc = Libc::ALL.to_vec();
    let w = |args: &[&str]| {
        use clap::Parser;
        let mut argv = vec!["cargo xtask", "wheels"];
        argv.extend_from_slice(args);
        let flags::Cmd::Wheels(w) = flags::Xtask::try_parse_from(argv).unwrap().subcommand else {
            unreachable!()
        };
        w
    };
    let p = Plan::new(w(&["--standin", "--arch", "x86_64,aarch64"]), &c, &root).unwrap();
    assert_eq!(
        p.selector.platforms,
        [
            (Arch::X86_64, Libc::Glibc),
            (Arch::Aarch64, Libc::Glibc),
            (Arch::X86_64, Libc::Musl)
        ]
    );
    // The real images build every libc.
    let p = Plan::new(w(&["--arch", "x86_64,aarch64"]), &c, &root).unwrap();
    assert_eq!(p.selector.platforms.len(), 4);
    // Asked for by name, it stays, and the stand-in's refusal names it.
    let p = Plan::new(
        w(&["--standin", "--arch", "aarch64", "--libc", "musllinux"]),
        &c,
        &root,
    )
    .unwrap();
    assert_eq!(p.selector.platforms, [(Arch::Aarch64, Libc::Musl)]);
}

#[test]
fn overrides_apply_to_the_builds_they_select_as_inherit_says() {
    let root = tree();
    let mut p = plan(&root, &[]).unwrap();
    p.before_build = Some("make".into());
    p.env = vec![("A".into(), "1".into())];
    p.test = Some(Test {
        command: Some("pytest".into()),
        requires: vec!["pytest".into()],
        ..Test::default()
    });
    let settings = Config {
        before_build: Some("echo 313".into()),
        env: vec![("A".into(), "2".into())],
        test: Test {
            requires: vec!["numpy".into()],
            ..Test::default()
        },
        steps: Steps {
            repair_command: Some(String::new()),
            ..Steps::default()
        },
        ..Config::default()
    };
    p.overrides = vec![Override {
        select: Patterns::parse(&["cp313-*"]).unwrap(),
        keys: vec![
            ("before-build".into(), Inherit::Append),
            ("environment".into(), Inherit::None),
            ("test-requires".into(), Inherit::Prepend),
            ("repair-wheel-command".into(), Inherit::None),
        ],
        settings: Box::new(settings),
    }];
    let chosen = p.for_build(&BuildId::parse("cp313-manylinux_x86_64").unwrap());
    assert_eq!(chosen.before_build.as_deref(), Some("make && echo 313"));
    assert_eq!(chosen.env, [("A".to_string(), "2".to_string())]);
    assert_eq!(chosen.test.unwrap().requires, ["numpy", "pytest"]);
    assert_eq!(chosen.steps.repair_command.as_deref(), Some(""));
    let other = p.for_build(&BuildId::parse("cp314-manylinux_x86_64").unwrap());
    assert_eq!(other.before_build.as_deref(), Some("make"));
    assert_eq!(other.env, [("A".to_string(), "1".to_string())]);
    assert_eq!(other.steps.repair_command, None);
}

#[test]
fn defaults_from_config() {
    let root = tree();
    let p = plan(&root, &[]).unwrap();
    assert_eq!(p.selector.arches, vec![Arch::X86_64, Arch::Aarch64]);
    assert_eq!(p.selector.pythons, Selection::All);
    assert_eq!(p.root, *root);
    assert_eq!(p.package, "pkg");
    assert_eq!(
        p.include,
        vec![Utf8PathBuf::from("native"), "README.md".into()]
    );
    assert_eq!(p.out, root.join("dist"));
    assert!(p.isolation);
    assert!(p.jobs >= 1);
}

#[test]
fn flags_override_config() {
    let root = tree();
    let p = plan(
        &root,
        &[
            "--arch",
            "aarch64",
            "--py",
            "cp311,pp39",
            "--include",
            "other",
            "--out",
            "wheels",
            "--env",
            "A=1=2",
            "--no-isolation",
            "--jobs",
            "3",
            "--image",
            "img",
            "--plat",
            "manylinux_2_28_aarch64",
        ],
    )
    .unwrap();
    assert_eq!(p.selector.arches, vec![Arch::Aarch64]);
    assert_eq!(p.selector.pythons.to_string(), "cp311,pp39");
    assert_eq!(p.include, vec![Utf8PathBuf::from("other")]);
    assert_eq!(p.out, root.join("wheels"));
    assert_eq!(p.env, vec![("A".to_string(), "1=2".to_string())]);
    assert!(!p.isolation);
    assert_eq!(p.jobs, 3);
    assert_eq!(p.image.as_deref(), Some("img"));
}

#[test]
fn bad_input_is_named() {
    let root = tree();
    let cases: &[(&[&str], &str)] = &[
        (&["--arch", "sparc"], "unknown arch `sparc`"),
        (&["--arch", "x86_64,amd64"], "given twice"),
        (&["--py", ""], "empty interpreter list"),
        (&["--py", "cp312,cp312"], "`cp312` is given twice"),
        (&["--py", "cp3x"], "invalid interpreter tag `cp3x`"),
        (&["--image", "x"], "--image applies to one arch"),
        (&["--arch", "x86_64", "--image", " "], "--image is empty"),
        (
            &["--arch", "x86_64", "--plat", "linux_x86_64"],
            "`linux_x86_64` is not a manylinux platform tag",
        ),
        (&["--root", "nowhere"], "--root `"),
        (&["--root", "README.md"], "is a file"),
        (
            &["--package", "../pkg"],
            "--package `../pkg` is outside the root",
        ),
        (
            &["--package", "/etc"],
            "--package `/etc` is outside the root",
        ),
        (
            &["--package", "missing"],
            "--package `missing` does not exist",
        ),
        (
            &["--package", "other"],
            "--package `other` has no pyproject.toml or setup.py",
        ),
        (&["--package", "README.md"], "is not a folder"),
        (
            &["--include", "../x"],
            "--include `../x` is outside the root",
        ),
        (&["--include", "gone"], "--include `gone` does not exist"),
        (&["--out", "README.md"], "--out `"),
        (&["--out", "."], "is the root itself"),
        (&["--out", "pkg/dist"], "is inside the package folder"),
        (&["--env", "NOEQUALS"], "--env `NOEQUALS` has no `=`"),
        (&["--env", "AUDITWHEEL_PLAT=x"], "cannot be overridden"),
        (&["--env", "1A=x"], "not a valid environment variable name"),
    ];
    for (args, expected) in cases {
        let e = err(&root, args);
        assert!(e.contains(expected), "{args:?}: {e}");
    }
}

#[test]
fn clap_rejects_bad_numbers() {
    let root = tree();
    for jobs in ["0", "-1", "two"] {
        let e = plan(&root, &["--jobs", jobs]).unwrap_err();
        let e = e.downcast_ref::<clap::Error>().expect("a clap error");
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains(jobs), "{e}");
    }
}

#[test]
fn tar_line() {
    let root = tree();
    let p = plan(&root, &["--out", "dist"]).unwrap();
    assert_eq!(
        util::command_line(&p.tar_command(), &[]),
        format!(
            "tar --create --file=- --directory {} --exclude-vcs --exclude=__pycache__ '--exclude=*.egg-info' --anchored \
             --exclude=pkg/build --exclude=pkg/dist --exclude=pkg/.tox --exclude=pkg/.nox --exclude=pkg/.venv --exclude=dist -- pkg native README.md",
            root.as_str()
        )
    );
}

#[test]
fn script_and_pre_build_lines() {
    let root = tree();
    let mut p = plan(&root, &["--no-isolation"]).unwrap();
    assert_eq!(
        p.build_args("cp311-cp311", "manylinux2014_x86_64", "/xtask/src")
            .command()
            .join(" "),
        "sh -c bash /xtask/bin/build-wheel.sh \"$@\" >&2 && cd \"/xtask/out/$1\" && exec tar -c -h -- *.whl sh cp311-cp311 manylinux2014_x86_64 /xtask/src pkg 0 fail"
    );
    let skip = plan(&root, &["--pure-wheel", "skip"]).unwrap();
    assert!(skip
        .build_args("x", "y", "z")
        .command()
        .ends_with(&["1".into(), "skip".into()]));
    let e = plan(&root, &["--pure-wheel", "ship"]).unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "--pure-wheel `ship` is not one of fail, accept, skip (what a build that gives a pure-Python wheel gets)"
    );
    let id = |s: &str| BuildId::parse(s).unwrap();
    assert!(p
        .hook_command(&p.pre_build, &id("cp311-manylinux_x86_64"), None)
        .is_none());
    p.pre_build = vec![
        "make".into(),
        "PY={py}".into(),
        "ARCH={arch}".into(),
        "$(x) {py}".into(),
        "-Ppython.include_path={include}".into(),
        "{version}".into(),
    ];
    let cmd = p
        .hook_command(
            &p.pre_build,
            &id("cp313t-manylinux_aarch64"),
            Some(Utf8Path::new("/cache/h")),
        )
        .unwrap();
    assert_eq!(
        util::command_line(&cmd, &[]),
        "make PY=cp313t ARCH=aarch64 '$(x) cp313t' -Ppython.include_path=/cache/h 3.13"
    );
    assert!(p.needs_include());
    // Lets-Plot's name for the arch.
    p.arch_names[Arch::Aarch64 as usize] = Some("arm64".into());
    let cmd = p
        .hook_command(&p.pre_build, &id("cp310-manylinux_aarch64"), None)
        .unwrap();
    assert_eq!(
        util::command_line(&cmd, &[]),
        "make PY=cp310 ARCH=arm64 '$(x) cp310' -Ppython.include_path= 3.10"
    );
    assert_eq!(cmd.get_current_dir().unwrap(), root.as_std_path());
}

#[test]
fn paths() {
    assert_eq!(normalize(Utf8Path::new("/a/./b/../c")).unwrap(), "/a/c");
    assert_eq!(normalize(Utf8Path::new("/..")), None);
    assert!(check_plat("manylinux2014_x86_64").is_ok());
    assert!(check_plat("manylinux_2_36_aarch64").is_ok());
    assert!(check_plat("manylinux2014_x86_64;id").is_err());
}

#[test]
fn each_build_gets_its_share_of_the_cores() {
    let root = tree();
    let cores = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1);
    let p = plan(&root, &[]).unwrap();
    let env = p.parallel_env(1);
    if cores > 1 {
        assert_eq!(env[0], ("MAKEFLAGS".to_string(), format!("-j{cores}")));
        assert_eq!(env.len(), 4, "{env:?}");
    }
    assert!(
        p.parallel_env(cores).is_empty(),
        "one core each: nothing to share"
    );
    let p = plan(&root, &["--build-jobs", "3"]).unwrap();
    let env = p.parallel_env(8);
    assert_eq!(
        env,
        [
            ("MAKEFLAGS".to_string(), "-j3".to_string()),
            ("CMAKE_BUILD_PARALLEL_LEVEL".to_string(), "3".to_string()),
            ("CARGO_BUILD_JOBS".to_string(), "3".to_string()),
            ("XTASK_COMPILE_JOBS".to_string(), "3".to_string()),
        ]
    );
    // What the user sets wins; 1 turns it all off.
    let p = plan(&root, &["--build-jobs", "3", "--env", "MAKEFLAGS=-j9"]).unwrap();
    assert!(!p.parallel_env(1).iter().any(|(k, _)| k == "MAKEFLAGS"));
    assert!(plan(&root, &["--build-jobs", "1"])
        .unwrap()
        .parallel_env(1)
        .is_empty());
}

#[test]
fn test_command_gets_quoted_paths_and_honours_test_skip() {
    let root = tree();
    std::fs::create_dir_all(root.join("py pkg")).unwrap();
    std::fs::write(root.join("py pkg/setup.py"), "").unwrap();
    let mut p = plan(&root, &["--package", "py pkg"]).unwrap();
    p.test = Some(Test {
        command: Some("pytest {package}/tests && ls {project}".into()),
        requires: vec!["pytest".into(), "numpy>=2".into()],
        sources: vec!["tests".into()],
        skip: Patterns::parse(&["pp*"]).unwrap(),
        extras: Vec::new(),
    });
    let env = p.test_env(
        &BuildId::parse("cp311-manylinux_x86_64").unwrap(),
        "cp311-cp311",
    );
    assert_eq!(
        env,
        [
            ("XTASK_TEST_COMMAND".to_string(), "pytest '/xtask/work/cp311-cp311/src/py pkg'/tests && ls /xtask/work/cp311-cp311/src".to_string()),
            ("XTASK_TEST_REQUIRES".to_string(), "pytest\nnumpy>=2".to_string()),
            ("XTASK_TEST_SOURCES".to_string(), "tests".to_string()),
        ]
    );
    assert!(p
        .test_env(
            &BuildId::parse("pp39-manylinux_x86_64").unwrap(),
            "pp39-pypy39_pp73"
        )
        .is_empty());
    p.test = None;
    assert!(p
        .test_env(
            &BuildId::parse("cp311-manylinux_x86_64").unwrap(),
            "cp311-cp311"
        )
        .is_empty());
}

#[test]
fn interpreters_requires_python_excludes_are_refused_by_name() {
    let root = tree();
    std::fs::write(
        root.join("pkg/pyproject.toml"),
        "[project]\nname = \"x\"\nrequires-python = \">=3.11\"\n",
    )
    .unwrap();
    let err = |args: &[&str]| format!("{:#}", plan(&root, args).unwrap_err());
    assert_eq!(
        err(&["--py", "cp311,pp39"]),
        "--py names pp39, but the package's Requires-Python `>=3.11` (pyproject.toml) excludes Python 3.9: leave pp39 out (`all` builds every interpreter it allows)"
    );
    assert!(err(&["--only", "cp310-manylinux_aarch64"]).starts_with("--only names cp310, "));
    let p = plan(&root, &["--py", "all"]).unwrap();
    assert_eq!(p.selector.requires_python.unwrap().spec, ">=3.11");
    assert!(plan(&root, &["--py", "cp312"]).is_ok());
}

#[test]
fn includes_take_globs_and_refuse_empty_paths() {
    let root = tree();
    for d in ["ext/a/build", "ext/b/build", "ext/c", "ext/.hidden/build"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("LICENSE"), "").unwrap();
    let includes = |args: &[&str]| -> Vec<String> {
        let p = plan(&root, args).unwrap();
        p.include.iter().map(|p| p.to_string()).collect()
    };
    assert_eq!(
        includes(&["--include", "ext/*/build", "--include", "LICEN?E"]),
        ["ext/a/build", "ext/b/build", "LICENSE"]
    );
    assert_eq!(
        includes(&["--include", "ext/{a,c}", "--include", "ext/a"]),
        ["ext/a", "ext/c"]
    );
    assert_eq!(
        includes(&["--include", "ext/.*/build"]),
        ["ext/.hidden/build"]
    );
    let err = |args: &[&str]| format!("{:#}", plan(&root, args).unwrap_err());
    assert!(
        err(&["--include", ""]).starts_with("--include has an empty path"),
        "{}",
        err(&["--include", ""])
    );
    assert!(err(&["--include", " "]).contains("empty path"));
    assert!(err(&["--include", "ext/*/dist"])
        .starts_with("--include `ext/*/dist` matches nothing under"));
    assert!(
        err(&["--include", "../*"]).contains("is outside the root"),
        "{}",
        err(&["--include", "../*"])
    );
}

#[test]
fn errors_name_the_key_and_file_of_a_configured_value() {
    let root = tree();
    let config = Config {
        file: root.join("other.toml"),
        include: vec!["demo/native".into()],
        ..config(&root)
    };
    use clap::Parser;
    let flags = flags::Xtask::try_parse_from(["cargo xtask", "wheels"]).unwrap();
    let flags::Cmd::Wheels(w) = flags.subcommand else {
        unreachable!()
    };
    let e = format!("{:#}", Plan::new(w, &config, &root).unwrap_err());
    assert_eq!(
        e,
        format!("include (in {0}/other.toml) `demo/native` does not exist under {0}: give an existing path", root.as_str())
    );
}
