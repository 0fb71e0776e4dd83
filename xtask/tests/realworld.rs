//! Real projects' shapes on a real engine: Lets-Plot's build as it is today
//! (a native library built on the host per interpreter against that
//! interpreter's headers, inputs outside the package and outside the root),
//! and what real sdists do: Requires-Python, extensions that are optional or
//! absent on PyPy, C++, build requirements an offline image lacks.

mod support;

use std::path::{Path, PathBuf};

use support::*;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Stands in for Lets-Plot's `./gradlew`: `python-extension:build` compiles the
/// static library of the Kotlin/Native part against the Python headers at
/// `python.include_path` (as cinterop does), `python-extension:clean` removes it.
const GRADLEW: &str = r#"#!/bin/bash
set -euo pipefail
task=$1; shift
declare -A prop
for arg in "$@"; do arg=${arg#-P}; prop[${arg%%=*}]=${arg#*=}; done
echo "gradle stand-in: $task ${*}"
case $task in
python-extension:build)
    case ${prop[architecture]} in
        x86_64) kn=linuxX64 ;;
        *) echo "this stand-in builds x86_64 only, not ${prop[architecture]}" >&2; exit 1 ;;
    esac
    inc=${prop[python.include_path]}
    [ -f "$inc/Python.h" ] || { echo "no Python.h in '$inc'" >&2; exit 1; }
    out=python-extension/build/bin/$kn/releaseStatic
    mkdir -p "$out"
    printf '#include <Python.h>\nint lp_python_minor(void) { return PY_MINOR_VERSION; }\nconst char *lp_python_version(void) { return PY_VERSION; }\n' > "$out/api.c"
    gcc -c -fPIC -I"$inc" "$out/api.c" -o "$out/api.o"
    ar rcs "$out/liblets_plot_python_extension.a" "$out/api.o"
    rm "$out/api.c" "$out/api.o"
    printf 'int lp_python_minor(void);\nconst char *lp_python_version(void);\n' > "$out/lets_plot_python_extension_api.h"
    ;;
python-extension:clean)
    rm -rf python-extension/build ;;
*) echo "unknown task $task" >&2; exit 1 ;;
esac
"#;

/// Lets-Plot's python-package/setup.py, cut down to what touches the build.
const SETUP_PY: &str = r#"import os, platform, shutil
from setuptools import Extension, setup

kn_platform_build_dir = {('Linux', 'x86_64'): 'linuxX64', ('Linux', 'aarch64'): 'linuxArm64'}
this_dir = os.path.dirname(os.path.abspath(__file__))
root_dir = os.path.dirname(this_dir)
binaries = os.path.join(root_dir, 'python-extension', 'build', 'bin',
                        kn_platform_build_dir[(platform.system(), platform.machine())], 'releaseStatic')
js = os.path.join(root_dir, 'js-package', 'build', 'kotlin-webpack', 'js', 'productionExecutable', 'lets-plot.js')
imagick = os.environ['IMAGICK_LIB_PATH']
os.makedirs(os.path.join(this_dir, 'lets_plot', 'package_data'), exist_ok=True)
shutil.copy(js, os.path.join(this_dir, 'lets_plot', 'package_data', 'lets-plot.js'))
with open(os.path.join(root_dir, 'README.md')) as f:
    long_description = f.read()

setup(
    name='lets-plot-standin', version='4.0.0', packages=['lets_plot'],
    package_data={'lets_plot': ['package_data/lets-plot.js']},
    long_description=long_description, long_description_content_type='text/markdown',
    ext_modules=[Extension(
        'lets_plot_kotlin_bridge',
        sources=['kotlin-bridge/lets_plot_kotlin_bridge.c'],
        include_dirs=[binaries, os.path.join(imagick, 'include')],
        extra_objects=[os.path.join(binaries, 'liblets_plot_python_extension.a'),
                       os.path.join(imagick, 'lib', 'libfakemagick.a')],
    )],
)
"#;

const BRIDGE_C: &str = r#"#include <Python.h>
#include "lets_plot_python_extension_api.h"
#include "fakemagick.h"

static PyObject *report(PyObject *self, PyObject *args) {
    return PyUnicode_FromFormat("native library for Python %s, magick %d", lp_python_version(), fakemagick_version());
}
static PyMethodDef methods[] = {{"report", report, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "lets_plot_kotlin_bridge", NULL, -1, methods};

PyMODINIT_FUNC PyInit_lets_plot_kotlin_bridge(void) {
    /* Built against another interpreter's headers: refuse, as a mismatched ABI would crash. */
    if (lp_python_minor() != PY_MINOR_VERSION) {
        PyErr_Format(PyExc_ImportError, "the native library was built against Python 3.%d headers, not 3.%d",
                     lp_python_minor(), PY_MINOR_VERSION);
        return NULL;
    }
    return PyModule_Create(&module);
}
"#;

/// The README's Lets-Plot configuration, with the stand-in for Gradle.
const LETS_PLOT_CONFIG: &str = r#"[workspace.metadata.wheels]
package = "python-package"
include = ["python-extension", "js-package/build/kotlin-webpack", "README.md", "LICENSE"]
out = "dist"
pre-build = ["./gradlew", "python-extension:build", "-Pbuild_release=true", "-Ppython.bin_path=/usr/bin", "-Ppython.include_path={include}", "-Penable_python_package=true", "-Parchitecture={arch}"]
post-build = ["./gradlew", "python-extension:clean"]
test-command = "python -c 'import lets_plot_kotlin_bridge as b, sys; r = b.report(); print(r); assert r.startswith(\"native library for Python %d.%d\" % sys.version_info[:2]), r'"

[workspace.metadata.wheels.arch-names]
aarch64 = "arm64"

[workspace.metadata.wheels.input-dirs]
IMAGICK_LIB_PATH = "../imagemagick"
"#;

/// A tree laid out like JetBrains/lets-plot, and the ImageMagick build beside it.
fn lets_plot_tree(dir: &Path) -> PathBuf {
    let root = dir.join("lets-plot");
    write(&root.join("gradlew"), GRADLEW);
    sh("chmod", &["+x", root.join("gradlew").to_str().unwrap()]).ok();
    write(
        &root.join("python-extension/src/linuxMain/kotlin/Bridge.kt"),
        "// Kotlin/Native sources\n",
    );
    write(&root.join("python-package/setup.py"), SETUP_PY);
    write(
        &root.join("python-package/lets_plot/__init__.py"),
        "from lets_plot_kotlin_bridge import report\n",
    );
    write(
        &root.join("python-package/kotlin-bridge/lets_plot_kotlin_bridge.c"),
        BRIDGE_C,
    );
    write(
        &root.join("js-package/build/kotlin-webpack/js/productionExecutable/lets-plot.js"),
        "/* lets-plot.js, built once by ./gradlew js-package:build */\n",
    );
    write(
        &root.join("README.md"),
        "# Lets-Plot stand-in\n\nThe root README, read by setup.py.\n",
    );
    write(&root.join("LICENSE"), "MIT\n");
    write(&root.join("Cargo.toml"), LETS_PLOT_CONFIG);

    // ImageMagick's build, outside the root: a static library and its header.
    let magick = dir.join("imagemagick");
    write(
        &magick.join("include/fakemagick.h"),
        "int fakemagick_version(void);\n",
    );
    write(
        &magick.join("src/magick.c"),
        "int fakemagick_version(void) { return 7; }\n",
    );
    std::fs::create_dir_all(magick.join("lib")).unwrap();
    let obj = magick.join("src/magick.o");
    sh(
        "gcc",
        &[
            "-c",
            "-fPIC",
            magick.join("src/magick.c").to_str().unwrap(),
            "-o",
            obj.to_str().unwrap(),
        ],
    )
    .ok();
    sh(
        "ar",
        &[
            "rcs",
            magick.join("lib/libfakemagick.a").to_str().unwrap(),
            obj.to_str().unwrap(),
        ],
    )
    .ok();
    root
}

#[test]
fn lets_plot_as_it_builds_today() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("lets-plot");
    let root = lets_plot_tree(dir.path());
    let config = root.join("Cargo.toml");
    let (run, logs) = wheels_x86_logged(config.to_str().unwrap(), &["--py", "all"]);
    let run = run.ok();
    inv.check();

    let offered = offered("x86_64");
    let out = root.join("dist");
    let wheels = wheels_in(&out);
    assert_eq!(wheels.len(), offered.len(), "{wheels:?}");
    for tag in &offered {
        // Each interpreter's own headers went into its native library: the
        // test command imported it and it reported that interpreter's version.
        assert_row(&run.stdout, &x86(tag), "ok");
        assert!(
            row(&run.stdout, &x86(tag)).contains("passed"),
            "{}",
            run.stdout
        );
        let log = std::fs::read_to_string(logs.join(format!("{}.log", x86(tag)))).unwrap();
        // cp313t's library reports Python 3.13, as its interpreter does.
        let minor = tag
            .trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .trim_start_matches('3')
            .trim_end_matches('t');
        assert_has(&log, &format!("native library for Python 3.{minor}."));
        // The pre-build got the headers copied out of the image, and Lets-Plot's arch name.
        assert_has(&log, "gradle stand-in: python-extension:build -Pbuild_release=true -Ppython.bin_path=/usr/bin -Ppython.include_path=");
        assert_has(&log, "/target/xtask/include/");
        assert_has(&log, "-Parchitecture=x86_64");
        assert_has(&log, "gradle stand-in: python-extension:clean");
        let wheel = wheels
            .iter()
            .find(|w| w.contains(&format!("-{tag}-")))
            .unwrap();
        let names = wheel_names(&out.join(wheel));
        assert!(
            names
                .iter()
                .any(|n| n == "lets_plot/package_data/lets-plot.js"),
            "{names:?}"
        );
        let metadata = names
            .iter()
            .find(|n| n.ends_with(".dist-info/METADATA"))
            .unwrap();
        assert_has(
            &read_in_wheel(&out.join(wheel), metadata),
            "The root README, read by setup.py.",
        );
    }
    // post-build cleaned the native build away after the last build.
    assert!(!root.join("python-extension/build").exists());

    // Headers of another Python version (cp313t's are 3.13's): its own check
    // refuses the wheel.
    let other = offered
        .iter()
        .find(|t| t.trim_end_matches('t') != cp())
        .unwrap();
    let wrong = std::fs::read_to_string(&config).unwrap().replace(
        "-Ppython.include_path={include}",
        &format!("-Ppython.include_path={}", headers_of(other).display()),
    );
    std::fs::write(&config, wrong).unwrap();
    let run = wheels_x86(
        config.to_str().unwrap(),
        &[
            "--py",
            &cp(),
            "--out",
            dir.path().join("wrong").to_str().unwrap(),
        ],
    )
    .fails(1);
    assert_row(&run.stdout, &x86(&cp()), "FAILED");
    assert_has(
        &run.stdout,
        "the native library was built against Python 3.",
    );
    inv.check();
}

/// The host folder `{include}` named for `tag` (copied out by the run above).
fn headers_of(tag: &str) -> PathBuf {
    let base = root().join("target/xtask/include");
    for image in std::fs::read_dir(&base).unwrap() {
        let dir = image.unwrap().path().join(standin_dir(tag));
        if dir.join("Python.h").is_file() {
            return dir;
        }
    }
    panic!("no headers of {tag} under {}", base.display());
}

/// A package folder with `files`, and a config that builds it.
fn package(dir: &Path, files: &[(&str, &str)], extra_config: &str) -> PathBuf {
    for (name, text) in files {
        write(&dir.join("pkg").join(name), text);
    }
    let config = dir.join("pkg.toml");
    write(
        &config,
        // manylinux alone, as these tests are not about the libc (a
        // `[tool.cibuildwheel]` table would bring musllinux too: libcs.rs).
        &format!("[workspace.metadata.wheels]\npackage = \"pkg\"\nout = \"out\"\nlibc = [\"manylinux\"]\n{extra_config}"),
    );
    config
}

const PYPROJECT: &str =
    "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n";
const MODULE_C: &str = "#include <Python.h>\nstatic struct PyModuleDef m = {PyModuleDef_HEAD_INIT, \"_c\", NULL, -1, NULL};\nPyMODINIT_FUNC PyInit__c(void) { return PyModule_Create(&m); }\n";

#[test]
fn requires_python_decides_which_interpreters_build() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("requires");
    let cps = gil_cpythons("x86_64");
    // Requires the second CPython on: the first and PyPy (Python 3.11) are out.
    let floor = cps[1].trim_start_matches("cp3");
    let pyproject = format!("[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n[project]\nname = \"req\"\nversion = \"1\"\nrequires-python = \">=3.{floor}\"\n");
    let config = package(
        dir.path(),
        &[
            ("pyproject.toml", &pyproject),
            ("setup.py", "from setuptools import Extension, setup\nsetup(packages=['req'], ext_modules=[Extension('req._c', ['req/_c.c'])])\n"),
            ("req/__init__.py", ""),
            ("req/_c.c", MODULE_C),
        ],
        "",
    );
    let config = config.to_str().unwrap();
    let run = wheels_x86(config, &["--py", "all"]).ok();
    for excluded in [cp(), pp()] {
        assert_has(&run.stderr, &format!("==> {excluded} on x86_64: skipped, the package's Requires-Python `>=3.{floor}` (pyproject.toml) excludes Python 3."));
        assert!(!run.stdout.contains(&x86(&excluded)), "{}", run.stdout);
    }
    let wheels = wheels_in(&dir.path().join("out"));
    assert_eq!(wheels.len(), cps.len() - 1, "{wheels:?}");

    // Naming an excluded interpreter is an error, before anything starts.
    let run = wheels_x86(config, &["--py", &cp()]).fails(2);
    assert_has(run.error_line(), &format!("--py names {}, but the package's Requires-Python `>=3.{floor}` (pyproject.toml) excludes Python 3.", cp()));
    // `matrix` lists what `wheels --py all` builds.
    let matrix = xtask(&[
        "--config",
        config,
        "matrix",
        "--standin",
        "--arch",
        "x86_64",
    ])
    .ok();
    assert_eq!(
        matrix.stdout.lines().count(),
        cps.len() - 1,
        "{}",
        matrix.stdout
    );
    inv.check();
}

/// Native on CPython, pure Python on PyPy (as markupsafe and simplejson are).
fn native_but_pure_on_pypy(dir: &Path, extra_config: &str) -> PathBuf {
    package(
        dir,
        &[
            ("pyproject.toml", PYPROJECT),
            (
                "setup.py",
                "import platform\nfrom setuptools import Extension, setup\nexts = [] if platform.python_implementation() == 'PyPy' else [Extension('speedy._c', ['speedy/_c.c'])]\nsetup(name='speedy', version='1', packages=['speedy'], ext_modules=exts)\n",
            ),
            ("speedy/__init__.py", "try:\n    from . import _c\nexcept ImportError:\n    _c = None\n"),
            ("speedy/_c.c", MODULE_C),
        ],
        extra_config,
    )
}

#[test]
fn a_pure_wheel_on_pypy_is_named_and_the_choice_offered() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("pure");
    let config = native_but_pure_on_pypy(dir.path(), "");
    let config = config.to_str().unwrap();
    let pp_dir = standin_dir(&pp());
    // A CPython, whose wheel has the extension, and the PyPy.
    let py = cp_and_pp();
    let run = wheels_x86(config, &["--py", &py]).fails(1);
    assert_row(&run.stdout, &x86(&pp()), "FAILED");
    assert_has(&run.stdout, &format!("{pp_dir} built a pure-Python wheel, speedy-1-py3-none-any.whl: the package has no extension module for this interpreter; ship that wheel with --pure-wheel accept, or leave {pp_dir} out with --pure-wheel skip"));
    assert_row(&run.stdout, &x86(&cp()), "ok");

    let out = dir.path().join("skip");
    let run = wheels_x86(
        config,
        &[
            "--py",
            &py,
            "--pure-wheel",
            "skip",
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .ok();
    assert_row(&run.stdout, &x86(&pp()), "skipped");
    assert!(row(&run.stdout, &x86(&pp())).contains("a pure-Python wheel (--pure-wheel skip)"));
    assert!(wheels_in(&out).iter().all(|w| !w.contains("none-any")));

    let out = dir.path().join("accept");
    wheels_x86(
        config,
        &[
            "--py",
            &py,
            "--pure-wheel",
            "accept",
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .ok();
    let wheels = wheels_in(&out);
    assert!(
        wheels.contains(&"speedy-1-py3-none-any.whl".to_string()),
        "{wheels:?}"
    );
    assert!(
        wheels.iter().any(|w| w.contains(&wheel_tags(&cp()))),
        "{wheels:?}"
    );
    assert_sums_check(&out);
    // verify takes the pure wheel too: sums, RECORD and tags, no platform to judge.
    let verified = xtask(&[
        "--config",
        config,
        "verify",
        "--standin",
        out.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(
        verified.stdout.lines().count(),
        wheels.len(),
        "{}",
        verified.stdout
    );
    assert_has(
        &verified.stdout,
        "ok    speedy-1-py3-none-any.whl (sha256, manifest.json, RECORD, tags)",
    );
    inv.check();
}

#[test]
fn a_broken_optional_extension_fails_the_check() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("broken-ext");
    // The package falls back to pure Python when `_speedups` does not load;
    // the extension calls a function no library defines.
    let config = package(
        dir.path(),
        &[
            ("pyproject.toml", PYPROJECT),
            ("setup.py", "from setuptools import Extension, setup\nsetup(name='fallback', version='1', packages=['fallback'], ext_modules=[Extension('fallback._speedups', ['fallback/_speedups.c'])])\n"),
            ("fallback/__init__.py", "try:\n    from ._speedups import fast\nexcept ImportError:\n    def fast():\n        return 'slow'\n"),
            ("fallback/_speedups.c", "#include <Python.h>\nint nowhere_defined(void);\nstatic PyObject *fast(PyObject *s, PyObject *a) { return PyLong_FromLong(nowhere_defined()); }\nstatic PyMethodDef m[] = {{\"fast\", fast, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};\nstatic struct PyModuleDef d = {PyModuleDef_HEAD_INIT, \"_speedups\", NULL, -1, m};\nPyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&d); }\n"),
        ],
        "",
    );
    let run = wheels_x86(config.to_str().unwrap(), &["--py", &cp()]).fails(1);
    assert_row(&run.stdout, &x86(&cp()), "FAILED");
    assert_has(
        &run.stdout,
        "check failed: extension fallback._speedups: ImportError",
    );
    assert_has(&run.stdout, "undefined symbol: nowhere_defined");
    assert!(wheels_in(&dir.path().join("out")).is_empty());
    inv.check();
}

/// An abi3 wheel is audited by abi3audit after the repair, on the host, as
/// cibuildwheel 4 does: one within the limited API lands; one that calls a
/// function outside it fails naming the function and does not land; and
/// `audit-command = ""` in a `[tool.cibuildwheel]` table turns the audit off.
#[test]
fn an_abi3_wheel_is_audited_before_it_lands() {
    let (_serial, inv) = on_x86_64_standin();
    let setup = "from setuptools import Extension, setup\nsetup(name='limited', version='1', ext_modules=[Extension('limited', ['limited.c'], py_limited_api=True)], options={'bdist_wheel': {'py_limited_api': 'cp312'}})\n";
    // Within the limited API (Py_LIMITED_API set), and outside it:
    // PyObject_Print takes a FILE* and is not in the stable ABI.
    let limited = |body: &str| {
        format!("{body}#include <Python.h>\nstatic struct PyModuleDef m = {{PyModuleDef_HEAD_INIT, \"limited\", NULL, -1, NULL}};\nPyMODINIT_FUNC PyInit_limited(void) {{ PyObject *mod = PyModule_Create(&m);{} return mod; }}\n", if body.contains("Py_LIMITED_API") { "" } else { " PyObject_Print(mod, stdout, 0);" })
    };
    let good_c = limited("#define Py_LIMITED_API 0x030C0000\n");
    let bad_c = limited("#include <stdio.h>\n");
    let cases = [
        ("abi3-good", good_c.as_str(), ""),
        ("abi3-bad", bad_c.as_str(), ""),
        (
            "abi3-off",
            bad_c.as_str(),
            "[tool.cibuildwheel]\naudit-command = \"\"\n",
        ),
    ];
    for (name, c, table) in cases {
        let dir = TempDir::new(name);
        let pyproject = format!("{PYPROJECT}{table}");
        let config = package(
            dir.path(),
            &[
                ("pyproject.toml", &pyproject),
                ("setup.py", setup),
                ("limited.c", c),
            ],
            "",
        );
        let (run, logs) = wheels_x86_logged(
            config.to_str().unwrap(),
            &["--libc", "manylinux", "--py", &cp(), "--no-test"],
        );
        let out = dir.path().join("out");
        let log = std::fs::read_to_string(logs.join(format!("{}.log", x86(&cp())))).unwrap();
        match name {
            "abi3-good" => {
                let run = run.ok();
                let wheels = wheels_in(&out);
                assert_eq!(wheels.len(), 1, "{}", run.stdout);
                assert!(wheels[0].contains("-cp312-abi3-"), "{wheels:?}");
                assert_has(&log, "==> audit: abi3audit --strict --report ");
            }
            "abi3-bad" => {
                let run = run.fails(1);
                assert_row(&run.stdout, &x86(&cp()), "FAILED");
                assert_has(&run.stdout, "the audit `abi3audit --strict --report ");
                assert_has(&format!("{}{}", run.stdout, run.stderr), "PyObject_Print");
                assert!(wheels_in(&out).is_empty());
            }
            _ => {
                run.ok();
                assert_eq!(wheels_in(&out).len(), 1);
                assert!(!log.contains("==> audit:"), "{log}");
            }
        }
    }
    inv.check();
}

/// auditwheel runs in its own interpreter's process where its script names
/// one; an image whose `auditwheel` is something else (here a shell script)
/// gets the command run as it is, and the same wheel.
#[test]
fn auditwheel_behind_a_shell_script_repairs_the_same() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("aw-script");
    let config = probe_package(dir.path(), "");
    let config = config.to_str().unwrap();
    let image = image_from(
        "xtask-test-aw-script:latest",
        "FROM xtask-standin:x86_64\nRUN py=$(head -n 1 /usr/local/bin/auditwheel | cut -c 3-) && rm /usr/local/bin/auditwheel && printf '#!/bin/sh\\necho auditwheel through its shell script >&2\\nexec %s -m auditwheel \"$@\"\\n' \"$py\" >/usr/local/bin/auditwheel && chmod +x /usr/local/bin/auditwheel\n",
    );
    let py = cp();
    let mut sums = Vec::new();
    for (way, image) in [("in-process", None), ("script", Some(image.as_str()))] {
        let out = dir.path().join(way);
        let mut args = vec!["--config", config, "wheels", "--arch", "x86_64"];
        match image {
            Some(image) => args.extend(["--image", image]),
            None => args.push("--standin"),
        }
        // Not a git checkout: no SOURCE_DATE_EPOCH unless given.
        args.extend(["--env", "SOURCE_DATE_EPOCH=1700000000"]);
        args.extend(["--py", &py, "--out", out.to_str().unwrap()]);
        let (run, logs) = xtask_logged(&args);
        run.ok();
        let log = std::fs::read_to_string(logs.join(format!("{}.log", x86(&py)))).unwrap();
        assert_eq!(
            log.contains("auditwheel through its shell script"),
            image.is_some(),
            "{log}"
        );
        assert_has(&log, "Fixed-up wheel written to");
        assert_has(&log, "extension probe._c: ok");
        let wheels = wheels_in(&out);
        assert!(
            wheels.len() == 1 && wheels[0].contains(&wheel_tags(&py)),
            "{wheels:?}"
        );
        sums.push(std::fs::read_to_string(out.join("SHA256SUMS")).unwrap());
    }
    assert_eq!(sums[0], sums[1], "the two ways gave different wheels");
    inv.check();
}

#[test]
fn cpp_builds_on_every_interpreter() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("cpp");
    let config = package(
        dir.path(),
        &[
            ("pyproject.toml", PYPROJECT),
            ("setup.py", "from setuptools import Extension, setup\nsetup(name='cxx', version='1', packages=['cxx'], ext_modules=[Extension('cxx._v', ['cxx/_v.cpp'], language='c++')])\n"),
            ("cxx/__init__.py", "from ._v import size\n"),
            ("cxx/_v.cpp", "#include <Python.h>\n#include <vector>\n#include <numeric>\nstatic PyObject *size(PyObject *, PyObject *) { std::vector<int> v(5); std::iota(v.begin(), v.end(), 1); return PyLong_FromLong(std::accumulate(v.begin(), v.end(), 0)); }\nstatic PyMethodDef m[] = {{\"size\", size, METH_NOARGS, nullptr}, {nullptr, nullptr, 0, nullptr}};\nstatic struct PyModuleDef d = {PyModuleDef_HEAD_INIT, \"_v\", nullptr, -1, m};\nPyMODINIT_FUNC PyInit__v(void) { return PyModule_Create(&d); }\n"),
        ],
        "test-command = \"python -c 'import cxx; assert cxx.size() == 15'\"\n",
    );
    let run = wheels_x86(config.to_str().unwrap(), &["--py", "all"]).ok();
    for tag in offered("x86_64") {
        assert_row(&run.stdout, &x86(&tag), "ok");
        assert!(row(&run.stdout, &x86(&tag)).contains("passed"));
    }
    inv.check();
}

#[test]
fn a_build_requirement_the_image_lacks_is_named() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("missing-req");
    let config = package(
        dir.path(),
        &[
            ("pyproject.toml", "[build-system]\nrequires = [\"setuptools>=61\", \"pybind11~=2.6\"]\nbuild-backend = \"setuptools.build_meta\"\n"),
            ("setup.py", "from setuptools import setup\nsetup(name='needs', version='1')\n"),
        ],
        "",
    );
    let run = wheels_x86(config.to_str().unwrap(), &["--py", &cp()]).fails(1);
    assert_has(&run.stdout, &format!("{} failed: the build requirement `pybind11~=2.6` cannot be installed: pip found no matching distribution", x86(&cp())));
    assert_has(&run.stdout, "--no-isolation");
    inv.check();
}

#[test]
fn a_cibuildwheel_configuration_builds_the_same_way() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("cibw");
    let cps = gil_cpythons("x86_64");
    let pyproject = format!(
        r#"[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[tool.cibuildwheel]
build = "{first}-* pp*"
skip = "pp*"
enable = ["pypy"]
environment = {{ FLAVOUR = "cibw" }}
before-build = "echo prepared > {{package}}/flavour/prepared.txt"
test-command = "python -c 'import flavour; assert flavour.FLAVOUR == \"cibw\", flavour.FLAVOUR'"
"#,
        first = cps[0]
    );
    let config = package(
        dir.path(),
        &[
            ("pyproject.toml", &pyproject),
            (
                "setup.py",
                "import os\nfrom setuptools import Extension, setup\nassert os.path.exists('flavour/prepared.txt'), 'before-build did not run'\nwith open('flavour/_flavour.py', 'w') as f:\n    f.write('FLAVOUR = %r\\n' % os.environ['FLAVOUR'])\nsetup(name='flavour', version='1', packages=['flavour'], ext_modules=[Extension('flavour._c', ['flavour/_c.c'])])\n",
            ),
            ("flavour/__init__.py", "from ._flavour import FLAVOUR\n"),
            ("flavour/_c.c", MODULE_C),
        ],
        "",
    );
    let run = wheels_x86(config.to_str().unwrap(), &[]).ok();
    assert_has(&run.stdout, "taken from [tool.cibuildwheel] in ");
    assert_has(
        &run.stdout,
        "pyproject.toml: build, skip, environment, before-build, test-command, enable",
    );
    // build picked the first CPython and PyPy, skip dropped PyPy.
    assert_row(&run.stdout, &x86(&cps[0]), "ok");
    assert!(row(&run.stdout, &x86(&cps[0])).contains("passed"));
    assert_eq!(
        run.stdout
            .lines()
            .filter(|l| l.contains("-manylinux_x86_64  "))
            .count(),
        1,
        "{}",
        run.stdout
    );
    assert_eq!(wheels_in(&dir.path().join("out")).len(), 1);
    // `matrix` selects the same way, so a CI fan-out builds just that.
    let matrix = |config: &Path| -> Vec<String> {
        let args = ["--config", config.to_str().unwrap(), "matrix", "--standin"];
        let mut lines: Vec<String> = xtask(&[&args[..], &["--arch", "x86_64"]].concat())
            .ok()
            .stdout
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(matrix(&config), vec![x86(&cps[0])]);

    // What our own configuration sets wins: its skip leaves PyPy in.
    std::fs::write(
        &config,
        std::fs::read_to_string(&config).unwrap() + "skip = \"nothing-*\"\n",
    )
    .unwrap();
    let run = wheels_x86(
        config.to_str().unwrap(),
        &["--out", dir.path().join("again").to_str().unwrap()],
    )
    .ok();
    assert_has(
        &run.stdout,
        "pyproject.toml: build, environment, before-build, test-command, enable",
    );
    assert_row(&run.stdout, &x86(&pp()), "ok");
    let mut both = vec![x86(&cps[0]), x86(&pp())];
    both.sort();
    assert_eq!(matrix(&config), both);
    inv.check();
}

/// The keys real projects' `[tool.cibuildwheel]` tables use beyond the
/// basic eight, each proven by what the build and its tests see; and every
/// key that is not used named, a typo warned about, in a dry run as in a run.
#[test]
fn cibuildwheel_keys_real_projects_use() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("cibw-keys");
    let pyproject = r#"[build-system]
requires = ["setuptools>=61"]
build-backend = "backend"
backend-path = ["."]

[project]
name = "keys"
version = "1"
optional-dependencies = { speed = ["pluggy"] }

[dependency-groups]
check = ["iniconfig"]

[tool.cibuildwheel]
archs = ["x86_64"]
enable = []
environment = 'PATH=$PATH:/opt/xtool/bin GREETING="$(echo hello there)" FLAVOUR=cibw'
before-all = "mkdir -p /opt/xtool/bin && printf '#!/bin/sh\necho tool-ran\n' > /opt/xtool/bin/xtool && chmod +x /opt/xtool/bin/xtool && echo once >> /opt/xtool/runs && test -f {package}/setup.py"
before-build = "xtool > {package}/keys/tool.txt"
before-test = 'touch "$VIRTUAL_ENV/before-test-ran"'
test-extras = ["speed"]
test-groups = ["check"]
config-settings = { flag = "on", where = "{project}" }
test-environment = { TESTED_AS = "t-$CIBUILDWHEEL_BUILD_IDENTIFIER" }
test-command = "python -c 'import keys, os, pluggy, iniconfig; assert keys.SEEN == {\"cibw\": \"1\", \"greeting\": \"hello there\", \"tool\": \"tool-ran\", \"settings\": {\"flag\": \"on\", \"where\": \"/xtask/work/\" + keys.SEEN[\"id\"].split(\"-\")[0] + \"-\" + keys.SEEN[\"id\"].split(\"-\")[0] + \"/src\"}, \"id\": os.environ[\"CIBUILDWHEEL_BUILD_IDENTIFIER\"], \"tested_as\": None}, keys.SEEN; assert os.environ[\"TESTED_AS\"] == \"t-\" + keys.SEEN[\"id\"]' && test -e \"$VIRTUAL_ENV/before-test-ran\" && test \"$(wc -l < /opt/xtool/runs)\" = 1"
test-comand = "a typo"
container-engine = "docker"

[tool.cibuildwheel.macos]
archs = "universal2"

[[tool.cibuildwheel.overrides]]
select = "cp313-*"
environment = { ONLY_313 = "yes" }
inherit.test-command = "append"
test-command = "python -c 'import os, sys; assert sys.version_info[:2] == (3, 13) and os.environ[\"ONLY_313\"] == \"yes\"'"
archs = "aarch64"
"#;
    let setup = r#"import os
from setuptools import Extension, setup
if os.environ.get("CIBUILDWHEEL") != "1":
    raise RuntimeError("CIBUILDWHEEL is not set")
seen = {"cibw": os.environ["CIBUILDWHEEL"], "greeting": os.environ["GREETING"], "tool": open("keys/tool.txt").read().strip(), "settings": __import__("json").load(open("settings.json")) if os.path.exists("settings.json") else None, "id": os.environ["CIBUILDWHEEL_BUILD_IDENTIFIER"], "tested_as": os.environ.get("TESTED_AS")}
with open("keys/__init__.py", "w") as f:
    f.write("SEEN = %r\n" % seen)
setup(packages=["keys"], ext_modules=[Extension("keys._c", ["keys/_c.c"])])
"#;
    // An in-tree backend that records the config settings it was given.
    let backend = "import json\nfrom setuptools import build_meta as _b\nfrom setuptools.build_meta import *\ndef build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n    json.dump(config_settings, open('settings.json', 'w'))\n    return _b.build_wheel(wheel_directory, None, metadata_directory)\n";
    let config = package(
        dir.path(),
        &[
            ("pyproject.toml", pyproject),
            ("setup.py", setup),
            ("backend.py", backend),
            ("keys/__init__.py", ""),
            ("keys/_c.c", MODULE_C),
        ],
        "",
    );
    let dry = xtask(&[
        "--config",
        config.to_str().unwrap(),
        "wheels",
        "--standin",
        "--dry-run",
    ])
    .ok();
    let cps = gil_cpythons("x86_64");
    let (run, logs) = wheels_x86_logged(config.to_str().unwrap(), &[]);
    let run = run.ok();
    for out in [&dry.stderr, &run.stdout] {
        assert_has(out, "pyproject.toml: archs, environment, before-all, before-build, before-test, test-command, test-environment, test-extras, test-groups, config-settings, enable");
        assert_has(out, "[tool.cibuildwheel] container-engine: not used here (the engine of each arch is chosen with --engine");
        assert_has(
            out,
            "[tool.cibuildwheel] macos: not used here (another platform's table",
        );
        assert_has(out, "taken from [tool.cibuildwheel] overrides[0] (select `cp313-*`): environment, test-command, for the builds it selects");
        assert_has(out, "[tool.cibuildwheel] overrides[0] (select `cp313-*`) archs: not used here (an override changes it for some builds only");
        assert_has(out, "warning: [tool.cibuildwheel] test-comand in ");
        assert_has(
            out,
            "is not a cibuildwheel option; did you mean `test-command`?",
        );
    }
    // Every CPython built and passed its tests; enable left PyPy out. The
    // override's environment and appended test ran for cp313 only (the
    // appended check asserts the interpreter is 3.13).
    for cp in &cps {
        assert_row(&run.stdout, &x86(cp), "ok");
        assert!(
            row(&run.stdout, &x86(cp)).contains("passed"),
            "{}",
            run.stdout
        );
        let text = std::fs::read_to_string(logs.join(format!("{}.log", x86(cp)))).unwrap();
        assert_eq!(text.contains("ONLY_313"), cp == "cp313", "{cp}: {text}");
    }
    assert_has(
        &run.stderr,
        &format!(
            "{} on x86_64: skipped, [tool.cibuildwheel] enable does not name pypy",
            pp()
        ),
    );
    assert_eq!(wheels_in(&dir.path().join("out")).len(), cps.len());
    inv.check();
}

/// A project's own `repair-wheel-command` replaces auditwheel's default
/// repair: the demo's libbz2, excluded by it, is not grafted (and the
/// check, which imports every extension, still runs); an empty command
/// ships the wheel unrepaired, with its linux tag.
#[test]
fn a_cibuildwheel_repair_wheel_command_replaces_the_repair() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("repair-command");
    demo_tree(&dir.path().join("tree"));
    let config = dir.path().join("demo.toml");
    std::fs::write(&config, "[workspace.metadata.wheels]\nroot = \"tree\"\npackage = \"demo/python\"\ninclude = [\"demo/native\", \"README.md\"]\nout = \"out\"\nlibc = [\"manylinux\"]\n").unwrap();
    let pyproject = dir.path().join("tree/demo/python/pyproject.toml");
    let base = std::fs::read_to_string(&pyproject).unwrap();
    let build = |command: &str, out: &str| -> (Run, Vec<String>) {
        std::fs::write(
            &pyproject,
            format!("{base}\n[tool.cibuildwheel]\nrepair-wheel-command = {command:?}\n"),
        )
        .unwrap();
        let out = dir.path().join(out);
        let run = wheels_x86(
            config.to_str().unwrap(),
            &["--py", &cp(), "--no-test", "--out", out.to_str().unwrap()],
        )
        .ok();
        let wheel = out.join(&wheels_in(&out)[0]);
        (
            run,
            wheel_names(&wheel)
                .into_iter()
                .chain([wheels_in(&out)[0].clone()])
                .collect(),
        )
    };
    let (run, names) = build(
        "auditwheel repair --exclude libbz2.so.1.0 -w {dest_dir} {wheel}",
        "excluded",
    );
    assert_has(&run.stdout, "pyproject.toml: repair-wheel-command");
    assert!(!names.iter().any(|n| n.contains("libbz2")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("manylinux")), "{names:?}");
    let (_, names) = build("", "unrepaired");
    assert!(
        names.iter().any(|n| n.ends_with("-linux_x86_64.whl")),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains(".libs/")), "{names:?}");
    inv.check();
}

/// `test-sources` are copied into the folder the tests run in (the same
/// command fails without them); `--pull` pulls the image again even when
/// the engine has it, and a failed pull is named with the way out.
#[test]
fn test_sources_reach_the_tests_and_pull_pulls_again() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("test-sources");
    let files = [
        ("pyproject.toml", PYPROJECT),
        ("setup.py", "from setuptools import Extension, setup\nsetup(name='src', version='1', packages=['src'], ext_modules=[Extension('src._c', ['src/_c.c'])])\n"),
        ("src/__init__.py", ""),
        ("src/_c.c", MODULE_C),
        ("checks/run.py", "import src._c\nprint('test sources ok')\n"),
    ];
    let with_sources = package(
        dir.path(),
        &files,
        "test-command = \"python checks/run.py\"\ntest-sources = [\"pkg/checks\"]\n",
    );
    let (run, logs) = wheels_x86_logged(with_sources.to_str().unwrap(), &["--py", &cp()]);
    let run = run.ok();
    assert!(
        row(&run.stdout, &x86(&cp())).contains("passed"),
        "{}",
        run.stdout
    );
    let log = std::fs::read_to_string(logs.join(format!("{}.log", x86(&cp())))).unwrap();
    assert_has(&log, "test sources ok");
    let without = package(
        dir.path(),
        &files,
        "test-command = \"python checks/run.py\"\n",
    );
    let run = wheels_x86(without.to_str().unwrap(), &["--py", &cp()]).fails(1);
    assert_has(&run.stdout, "the tests failed");

    let run = wheels_x86(
        without.to_str().unwrap(),
        &["--py", &cp(), "--no-test", "--pull"],
    )
    .fails(1);
    assert_has(
        &run.stderr,
        "pull --platform linux/amd64 xtask-standin:x86_64",
    );
    assert_has(
        &run.stderr,
        "image `xtask-standin:x86_64` could not be pulled again, as --pull asks",
    );
    inv.check();
}

/// Projects' commands find the environment cibuildwheel gives them:
/// before-all an interpreter of the image first on PATH (`python`, `pip`);
/// before-build and repair-wheel-command the build's own interpreter; the
/// test environment has pip (`python -m pip`), and before-test runs in it.
/// Two CPythons, so that each build's own interpreter is told apart. An
/// `environment-pass` variable reaches the build, and its value appears in
/// no output, log, JSON summary or container configuration.
#[test]
fn commands_find_the_environment_cibuildwheel_gives() {
    const SECRET: &str = "s3cret-value-of-environment-pass";
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("cibw-env");
    let say = |step: &str| {
        format!("python -c 'import sys; print(\\\"{step} python:\\\", sys.prefix)' && python -m pip --version")
    };
    // Checked without writing the value into the command.
    let passed = format!(
        "test ${{#PASSED_TOKEN}} = {} && case $PASSED_TOKEN in s3cret-*-pass) echo passed on;; esac",
        SECRET.len()
    );
    let pyproject = format!(
        "{PYPROJECT}\n[tool.cibuildwheel]\nenvironment-pass = [\"PASSED_TOKEN\"]\nbefore-all = \"{}\"\nbefore-build = \"{} && {passed}\"\nrepair-wheel-command = \"{} && auditwheel repair -w {{dest_dir}} {{wheel}}\"\nbefore-test = \"{}\"\ntest-command = \"{} && python -c 'import env_probe._c'\"\n",
        say("before-all"),
        say("before-build"),
        say("repair"),
        say("before-test"),
        say("test"),
    );
    let files = [
        ("pyproject.toml", pyproject.as_str()),
        ("setup.py", "from setuptools import Extension, setup\nsetup(name='env-probe', version='1', packages=['env_probe'], ext_modules=[Extension('env_probe._c', ['env_probe/_c.c'])])\n"),
        ("env_probe/__init__.py", ""),
        ("env_probe/_c.c", MODULE_C),
    ];
    let config = package(dir.path(), &files, "");
    let cps = gil_cpythons("x86_64");
    let json = dir.path().join("summary.json");
    let _kept = RemoveKeptContainers;
    let mut cmd = wheels_x86_cmd(
        config.to_str().unwrap(),
        &[
            "--py",
            &cps.join(","),
            "--json",
            json.to_str().unwrap(),
            "--keep-container",
        ],
    );
    cmd.env("PASSED_TOKEN", SECRET);
    let (run, logs) = run_logged(cmd);
    let run = run.ok();
    // The kept container's configuration holds no value of it.
    let kept = containers_of_ours();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let inspect = sh("docker", &["inspect", &kept[0]]).ok();
    sh("docker", &["rm", "--force", &kept[0]]).ok();
    let mut seen = vec![run.stdout.clone(), run.stderr.clone(), inspect.stdout];
    seen.push(std::fs::read_to_string(&json).unwrap());
    for log in std::fs::read_dir(&logs).unwrap() {
        seen.push(std::fs::read_to_string(log.unwrap().path()).unwrap());
    }
    for text in &seen {
        assert!(!text.contains(SECRET), "the passed value shows in:\n{text}");
    }
    // before-all ran once, with the oldest CPython first on PATH.
    let oldest = standin_dir(&cps[0]);
    let mut before_all = 0;
    for tag in &cps {
        let id = x86(tag);
        assert_row(&run.stdout, &id, "ok");
        let log = std::fs::read_to_string(logs.join(format!("{id}.log"))).unwrap();
        let own = format!("/opt/python/{}", standin_dir(tag));
        if log.lines().any(|l| l.starts_with("before-all python:")) {
            before_all += 1;
            assert_has(&log, &format!("before-all python: /opt/python/{oldest}\n"));
            assert_has(&log, &format!("from /opt/python/{oldest}/"));
        }
        assert_has(&log, &format!("before-build python: {own}\n"));
        assert_has(&log, "\npassed on\n");
        assert_has(&log, &format!("repair python: {own}\n"));
        // pip of the build's interpreter, and then the test environment's own.
        assert_has(&log, &format!("from {own}/"));
        let venv = format!("/xtask/test/{}/venv", standin_dir(tag));
        assert_has(&log, &format!("before-test python: {venv}\n"));
        assert_has(&log, &format!("test python: {venv}\n"));
        assert_has(&log, &format!("from {venv}/lib/"));
    }
    assert_eq!(before_all, 1, "before-all ran {before_all} times");
    inv.check();
}

/// A token in `PIP_INDEX_URL`, passed by `environment-pass`, reaches the
/// builds (pip's and, under emulation, the native uv's settings) and can
/// be read nowhere: not in the dry run, the output, any log, the JSON
/// summary, `ps` during the run, nor `docker inspect` of the kept
/// containers, on a native and an emulated target.
#[test]
fn a_token_passed_by_environment_pass_is_nowhere_to_be_read() {
    const TOKEN: &str = "tok3n-xtask-secret-9f1c";
    let (_serial, inv) = on_x86_64_standin();
    standin(&["--arch", "aarch64"]);
    let dir = TempDir::new("cibw-token");
    // The stand-ins install offline (PIP_NO_INDEX): the index is named, never asked.
    let index = format!("https://user:{TOKEN}@index.invalid/simple");
    let files = [
        (
            "pyproject.toml",
            format!("{PYPROJECT}\n[tool.cibuildwheel]\nenvironment-pass = [\"PIP_INDEX_URL\"]\nbefore-build = \"case $PIP_INDEX_URL in *tok3n-*) echo index passed on;; esac\"\n"),
        ),
        ("setup.py", "from setuptools import Extension, setup\nsetup(name='tokpkg', version='1', ext_modules=[Extension('tokpkg', ['tokpkg.c'])])\n".to_string()),
        ("tokpkg.c", MODULE_C.replace("\"_c\"", "\"tokpkg\"").replace("PyInit__c", "PyInit_tokpkg")),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let config = package(dir.path(), &files, "");
    let json = dir.path().join("summary.json");
    let py = arm_cp();
    let _kept = RemoveKeptContainers;
    let args = [
        "--config",
        config.to_str().unwrap(),
        "wheels",
        "--standin",
        "--arch",
        "x86_64,aarch64",
        "--py",
        &py,
        "--json",
        json.to_str().unwrap(),
        "--keep-container",
    ];
    let mut dry = xtask_cmd(&[&args[..], &["--dry-run"]].concat());
    let dry: Run = dry.env("PIP_INDEX_URL", &index).output().unwrap().into();
    let dry = dry.ok();
    let mut cmd = xtask_cmd(&args);
    cmd.env("PIP_INDEX_URL", &index)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    // Every process's command line, read over and over while the run goes on.
    let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let ps = {
        let watching = watching.clone();
        std::thread::spawn(move || {
            let mut seen = String::new();
            while watching.load(std::sync::atomic::Ordering::SeqCst) {
                seen.push_str(&sh("ps", &["-eo", "args"]).stdout);
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            seen
        })
    };
    let run: Run = child.wait_with_output().unwrap().into();
    watching.store(false, std::sync::atomic::Ordering::SeqCst);
    let ps = ps.join().unwrap();
    let run = run.ok();
    let kept = containers_of_ours();
    assert_eq!(kept.len(), 2, "{kept:?}");
    let mut seen = vec![
        (
            "the dry run".to_string(),
            format!("{}{}", dry.stdout, dry.stderr),
        ),
        (
            "the run's output".to_string(),
            format!("{}{}", run.stdout, run.stderr),
        ),
        ("ps".to_string(), ps.clone()),
        (
            "the JSON summary".to_string(),
            std::fs::read_to_string(&json).unwrap(),
        ),
    ];
    for c in &kept {
        seen.push((
            format!("docker inspect {c}"),
            sh("docker", &["inspect", c]).ok().stdout,
        ));
        sh("docker", &["rm", "--force", c]).ok();
    }
    let logs = logs_of(pid);
    for log in std::fs::read_dir(&logs).unwrap() {
        let log = log.unwrap().path();
        seen.push((
            log.display().to_string(),
            std::fs::read_to_string(&log).unwrap(),
        ));
    }
    for (what, text) in &seen {
        assert!(!text.contains(TOKEN), "the token shows in {what}:\n{text}");
    }
    // It was there to be seen: ps saw the builds, and the builds the token.
    assert_has(&ps, " exec --env ");
    for id in [x86(&py), format!("{py}-manylinux_aarch64")] {
        assert_row(&run.stdout, &id, "ok");
        let log = std::fs::read_to_string(logs.join(format!("{id}.log"))).unwrap();
        assert_has(&log, "\nindex passed on\n");
        assert_has(log.lines().next().unwrap(), "--env PIP_INDEX_URL ");
    }
    // Under emulation the native uv was told the index, by the client's environment.
    let arm = std::fs::read_to_string(logs.join(format!("{py}-manylinux_aarch64.log"))).unwrap();
    assert_has(arm.lines().next().unwrap(), "--env XTASK_UV_CONFIG ");
    assert_has(&arm, "environments: made by the native uv");
    assert_has(&dry.stdout, "--env XTASK_UV_CONFIG ");
    inv.check();
}
