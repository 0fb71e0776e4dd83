//! `cargo xtask verify [DIR]`: what a release would ship, checked: every
//! wheel and sdist against SHA256SUMS, each file inside a wheel against
//! RECORD, the file name's tags against WHEEL, auditwheel's verdict (in an
//! image of the wheel's arch) against the platform the name claims, an
//! sdist as pip reads it (sdist.rs) and every wheel of its version, and with
//! `--rebuild` each wheel built again (its identifier, image and
//! SOURCE_DATE_EPOCH from manifest.json) and compared byte for byte.
//! `--into` gathers CI's folders into one first (gather.rs).

mod gather;
mod sdist;

use std::process::Stdio;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use crate::config::Config;
use crate::engine::{Container, ContainerSpec, Engine, StartScript};
use crate::platform::{Arch, BuildId, Libc, PythonTag};
use crate::util::{self, usage, Runner};
use crate::wheels::landing::{MANIFEST, SUMS};
use crate::{flags, qemu_register, standin};

/// Where the wheels go inside the checking container.
const DIR: &str = "/xtask/verify";

impl flags::Verify {
    pub fn run(self, sh: &Shell, runner: &Runner, config: &Config) -> Result<()> {
        // The images the wheels were built in: the package's own, where it names them.
        let config = &crate::wheels::cibuildwheel::adopt_configured(config)?;
        let dir = match (&self.into, self.dirs.as_slice()) {
            (Some(into), parts) if !parts.is_empty() => {
                let into = util::absolute_from_cwd(into)?;
                let parts = parts
                    .iter()
                    .map(|p| util::absolute_from_cwd(p))
                    .collect::<Result<Vec<_>>>()?;
                if runner.dry_run {
                    println!("would gather {} folders into {into}", parts.len());
                    return Ok(());
                }
                let n = gather::gather(&parts, &into)?;
                eprintln!("==> gathered {n} files into {into}, with one {SUMS} and one {MANIFEST}");
                into
            }
            (Some(_), _) => {
                return Err(usage(
                    "--into gathers folders: name them, such as `verify parts/* --into dist`",
                ))
            }
            (None, []) => config.dir.join(&config.out),
            (None, [dir]) => util::absolute_from_cwd(dir)?,
            (None, _) => {
                return Err(usage(
                    "several folders are verified together only when gathered: add --into DIR",
                ))
            }
        };
        if !dir.is_dir() {
            return Err(usage(format!(
                "`{dir}` is not a folder: give the folder the wheels landed in"
            )));
        }
        let wheels = files_in(&dir, ".whl")?;
        let sdists = files_in(&dir, ".tar.gz")?;
        if wheels.is_empty() && sdists.is_empty() {
            return Err(usage(format!(
                "`{dir}` holds no wheel and no sdist: nothing to verify"
            )));
        }
        let mut ids = Vec::new();
        for wheel in &wheels {
            // A pure-Python wheel (--pure-wheel accept) has no arch to check.
            let pure = wheel.ends_with("-none-any.whl");
            ids.push(if pure {
                None
            } else {
                Some(build_id(wheel).map_err(usage)?)
            });
        }
        // Pure wheels are checked with the first arch's wheels; musllinux
        // ones in a musllinux image, where auditwheel sees musl.
        let first = ids
            .iter()
            .flatten()
            .map(|id| (id.arch, id.libc))
            .next()
            .unwrap_or((Arch::X86_64, Libc::Glibc));
        let platform_of = |i: usize| ids[i].as_ref().map_or(first, |id| (id.arch, id.libc));
        if runner.dry_run {
            println!("would verify {} wheels in {dir}", wheels.len());
            return Ok(());
        }

        let mut verdicts: Vec<Result<String, String>> = check_sums(&dir, &wheels)?;
        let mut sdist_verdicts = check_sums(&dir, &sdists)?;
        for (file, verdict) in sdists.iter().zip(&mut sdist_verdicts) {
            if let Ok(v) = verdict {
                *verdict = sdist::check(&dir, file).map(|what| format!("{v}, {what}"));
            }
        }
        // One release: every wheel of the sdist's version.
        if let Some((_, version)) = sdists.first().and_then(|s| sdist::name_version(s).ok()) {
            for (wheel, verdict) in wheels.iter().zip(&mut verdicts) {
                match sdist::wheel_version(wheel) {
                    Some(v) if v == version => {}
                    v => {
                        *verdict = Err(format!(
                            "its version is {}, the sdist's {version}",
                            v.unwrap_or("missing")
                        ))
                    }
                }
            }
        }
        let platforms = Libc::ALL
            .into_iter()
            .flat_map(|l| Arch::ALL.into_iter().map(move |a| (a, l)));
        for platform in platforms {
            let of_arch: Vec<usize> = (0..wheels.len())
                .filter(|&i| platform_of(i) == platform)
                .collect();
            if of_arch.is_empty() {
                continue;
            }
            let names: Vec<&str> = of_arch.iter().map(|&i| wheels[i].as_str()).collect();
            let lines = in_container(sh, runner, config, self.standin, platform, &dir, &names)?;
            for &i in &of_arch {
                let found = lines.iter().find_map(|l| {
                    l.strip_prefix("ok ")
                        .filter(|n| *n == wheels[i])
                        .map(|_| Ok(()))
                        .or_else(|| {
                            l.strip_prefix(&format!("FAIL {}: ", wheels[i]))
                                .map(|p| Err(p.to_string()))
                        })
                });
                let found =
                    found.unwrap_or_else(|| Err("no verdict from the checking container".into()));
                verdicts[i] = match (&verdicts[i], found) {
                    (Ok(v), Ok(())) if ids[i].is_none() => Ok(format!("{v}, RECORD, tags")),
                    (Ok(v), Ok(())) => Ok(format!(
                        "{v}, RECORD, tags, auditwheel in a {} image",
                        platform.1
                    )),
                    (Ok(_), Err(p)) => Err(p),
                    (Err(p), _) => Err(p.clone()),
                };
            }
        }
        if self.rebuild {
            let manifest = std::fs::read_to_string(dir.join(MANIFEST)).unwrap_or_default();
            for (i, wheel) in wheels.iter().enumerate() {
                if verdicts[i].is_ok() {
                    verdicts[i] = rebuild(config, &dir, wheel, &manifest).map(|()| {
                        format!("{}, rebuilt identically", verdicts[i].as_ref().unwrap())
                    });
                }
            }
        }

        let mut first = None;
        for (wheel, verdict) in wheels
            .iter()
            .chain(&sdists)
            .zip(verdicts.iter().chain(&sdist_verdicts))
        {
            match verdict {
                Ok(what) => println!("ok    {wheel} ({what})"),
                Err(problem) => {
                    println!("FAIL  {wheel}: {problem}");
                    first.get_or_insert(format!("{wheel}: {problem}"));
                }
            }
        }
        match first {
            Some(problem) => bail!("{problem}"),
            None => Ok(()),
        }
    }
}

/// The files of `dir` whose names end with `suffix`, sorted.
fn files_in(dir: &Utf8Path, suffix: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in dir
        .read_dir_utf8()
        .with_context(|| format!("reading {dir}"))?
    {
        let entry = entry?;
        if entry.file_name().ends_with(suffix) && entry.file_type()?.is_file() {
            names.push(entry.file_name().to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// The build identifier a wheel's name stands for: its interpreter (the ABI
/// tag tells a free-threaded build), the arch of its platform tags and
/// their family (manylinux or musllinux).
pub fn build_id(wheel: &str) -> Result<BuildId, String> {
    let parts: Vec<&str> = wheel.trim_end_matches(".whl").split('-').collect();
    let bad = || {
        format!(
            "`{wheel}` is not a wheel name this tool writes (name-version-python-abi-platform.whl)"
        )
    };
    let [.., python, abi, plat] = parts.as_slice() else {
        return Err(bad());
    };
    let arch = Arch::ALL
        .into_iter()
        .find(|a| plat.split('.').all(|p| p.ends_with(&format!("_{a}"))))
        .ok_or_else(bad)?;
    let python = python.split('.').next().unwrap_or_default();
    let tag = if abi.ends_with('t') && python.starts_with("cp") {
        format!("{python}t")
    } else {
        python.to_string()
    };
    let libc = match plat.starts_with("musllinux_") {
        true => Libc::Musl,
        false => Libc::Glibc,
    };
    Ok(BuildId {
        python: PythonTag::parse(&tag).map_err(|_| bad())?,
        arch,
        libc,
    })
}

/// Each wheel against SHA256SUMS: Ok("sha256") where it matches.
fn check_sums(dir: &Utf8Path, wheels: &[String]) -> Result<Vec<Result<String, String>>> {
    let sums = match std::fs::read_to_string(dir.join(SUMS)) {
        Ok(text) => text,
        Err(_) => {
            return Ok(wheels
                .iter()
                .map(|_| Err(format!("{dir} has no {SUMS}")))
                .collect())
        }
    };
    let mut listed: Vec<(&str, &str)> = Vec::new();
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let (hash, name) = line
            .split_once("  ")
            .ok_or_else(|| anyhow::anyhow!("{SUMS} line `{line}` is not `HASH  NAME`"))?;
        if !dir.join(name).is_file() {
            bail!("{SUMS} names {name}, which is not in {dir}");
        }
        listed.push((name, hash));
    }
    // The manifest, where there is one, must say the same of each wheel.
    let manifest = std::fs::read_to_string(dir.join(MANIFEST)).ok();
    wheels
        .iter()
        .map(|wheel| {
            let Some((_, hash)) = listed.iter().find(|(n, _)| n == wheel) else {
                return Ok(Err(format!("it is not in {SUMS}")));
            };
            let actual = util::sha256(&dir.join(wheel))?;
            if actual != *hash {
                return Ok(Err(format!("its sha256 is {actual}, not {hash} as {SUMS} says: the file changed after it was built")));
            }
            let Some(manifest) = &manifest else {
                return Ok(Ok("sha256".to_string()));
            };
            Ok(match manifest_field(manifest, wheel, "sha256") {
                // An sdist is recorded where it was gathered (not by `wheels`).
                None if wheel.ends_with(".tar.gz") => Ok("sha256".to_string()),
                None => Err(format!("it is not in {MANIFEST}")),
                Some(m) if m != actual => Err(format!(
                    "{MANIFEST} gives its sha256 as {m}, but the file's (and {SUMS}'s) is {actual}: the manifest changed after the build"
                )),
                Some(_) => Ok(format!("sha256, {MANIFEST}")),
            })
        })
        .collect()
}

fn libc_arch(arch: Arch, libc: Libc) -> String {
    crate::wheels::select::platform_name(arch, libc)
}

/// Runs verify-wheel.py on `names` in a container of `arch` and `libc`;
/// its output lines.
fn in_container(
    sh: &Shell,
    runner: &Runner,
    config: &Config,
    use_standin: bool,
    (arch, libc): (Arch, Libc),
    dir: &Utf8Path,
    names: &[&str],
) -> Result<Vec<String>> {
    let engine =
        Engine::ready(sh, false, config.engine(arch)).with_context(|| format!("{arch} checks"))?;
    let image = match (use_standin, libc) {
        (true, Libc::Glibc) => standin::ensure(sh, &engine, runner, arch)?,
        (true, Libc::Musl) => standin::ensure_musllinux(sh, &engine, runner, arch)?,
        (false, _) => config.image(arch, libc).to_string(),
    };
    engine.ensure_image(sh, runner, &image, arch, false)?;
    // auditwheel runs emulated on this machine's handler: with its faster CPU model.
    let emulated_env = match engine.is_local() && !arch.is_native_here() {
        true => qemu_register::host_cpu_model(arch).env(),
        false => Vec::new(),
    };
    let run_id = util::run_id();
    let quiet = Runner {
        dry_run: false,
        secrets: &[],
        quiet: true,
    };
    let spec = ContainerSpec {
        name: format!("xtask-verify-{run_id}-{}", libc_arch(arch, libc)),
        run_id: &run_id,
        image: &image,
        arch,
        volumes: Vec::new(),
        env: emulated_env,
        extra: &config.container_args,
        keep: false,
    };
    let setup = StartScript {
        script: format!("mkdir -p {DIR} /xtask/bin || exit 1"),
        args: Vec::new(),
        then: None,
    };
    let (c, _, _) = Container::start(&engine, &quiet, &spec, &setup, None)?;
    c.copy_in(&quiet, dir, DIR)?;
    c.copy_in(
        &quiet,
        &util::project_root().join("scripts/container"),
        "/xtask/bin",
    )?;
    let mut args = vec![
        "sh".to_string(),
        "-c".into(),
        // Any CPython of the image runs the script (standard library only).
        "for p in /opt/python/cp3*/bin/python; do exec \"$p\" -I \"$@\"; done; echo 'no CPython in /opt/python' >&2; exit 127".into(),
        "sh".into(),
        "/xtask/bin/verify-wheel.py".into(),
    ];
    args.extend(names.iter().map(|n| format!("{DIR}/{n}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = c
        .exec(&[], &[], &args)
        .stdin(Stdio::null())
        .output()
        .context("running the checks in the container")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() && !text.lines().any(|l| l.starts_with("FAIL ")) {
        bail!(
            "the checks could not run in `{image}`: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(text.lines().map(String::from).collect())
}

/// A string field of the manifest line of `wheel`.
fn manifest_field(manifest: &str, wheel: &str, key: &str) -> Option<String> {
    let line = manifest.lines().find(|l| {
        l.trim_start()
            .starts_with(&format!("{{\"file\": \"{wheel}\""))
    })?;
    let rest = line.split(&format!("\"{key}\": \"")).nth(1)?;
    Some(rest.split('"').next()?.to_string())
}

/// Builds `id` again as manifest.json says it was built, and compares bytes.
fn rebuild(config: &Config, dir: &Utf8Path, wheel: &str, manifest: &str) -> Result<(), String> {
    // The identifier it was built as: a pure wheel's name does not tell it.
    let id = manifest_field(manifest, wheel, "id")
        .ok_or_else(|| format!("{MANIFEST} does not name its build identifier"))?;
    let epoch = manifest_field(manifest, wheel, "source_date_epoch").ok_or_else(|| {
        format!("it cannot be rebuilt identically: {MANIFEST} has no SOURCE_DATE_EPOCH for it")
    })?;
    // The image by its digest where the build knew it: the same image,
    // whatever its tag names today.
    let image = manifest_field(manifest, wheel, "image_digest")
        .or_else(|| manifest_field(manifest, wheel, "image"))
        .ok_or_else(|| format!("{MANIFEST} does not name its image"))?;
    // Built by the native clang: rebuilt by it.
    let native_compiler =
        manifest_field(manifest, wheel, "compiler").is_some_and(|c| c.starts_with("native clang"));
    let scratch = Utf8PathBuf::from(format!("{dir}/.xtask-rebuild-{}", util::run_id()));
    let _cleanup = crate::cleanup::UndoGuard::new(crate::cleanup::Undo::Path(scratch.clone()));
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::process::Command::new(exe)
        .args([
            "--config",
            config.file.as_str(),
            "wheels",
            "--only",
            &id.to_string(),
        ])
        .args(["--image", &image, "--no-test"])
        .args(native_compiler.then_some("--native-compiler"))
        .arg("--env")
        .arg(format!("SOURCE_DATE_EPOCH={epoch}"))
        .arg("--out")
        .arg(scratch.as_str())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("starting the rebuild: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("error"))
            .unwrap_or("see above");
        return Err(format!("the rebuild of {id} failed: {why}"));
    }
    let rebuilt = scratch.join(wheel);
    if !rebuilt.is_file() {
        let got = files_in(&scratch, ".whl").unwrap_or_default().join(", ");
        return Err(format!("the rebuild of {id} gave {got}, not {wheel}"));
    }
    let (a, b) = (std::fs::read(dir.join(wheel)), std::fs::read(&rebuilt));
    match (a, b) {
        (Ok(a), Ok(b)) if a == b => Ok(()),
        (Ok(a), Ok(b)) => {
            let at = a
                .iter()
                .zip(&b)
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            Err(format!(
                "the rebuild of {id} differs from byte {at} on ({} bytes against {})",
                b.len(),
                a.len()
            ))
        }
        (Err(e), _) | (_, Err(e)) => Err(format!("reading the wheels: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_wheel_names() {
        let id = |w: &str| build_id(w).map(|b| b.to_string());
        assert_eq!(
            id("demo_codec-0.1.0-cp311-cp311-manylinux1_x86_64.manylinux_2_36_x86_64.manylinux_2_5_x86_64.whl").unwrap(),
            "cp311-manylinux_x86_64"
        );
        assert_eq!(
            id("d-1-pp39-pypy39_pp73-manylinux_2_36_aarch64.whl").unwrap(),
            "pp39-manylinux_aarch64"
        );
        assert_eq!(
            id("d-1-cp313-cp313t-manylinux_2_28_aarch64.whl").unwrap(),
            "cp313t-manylinux_aarch64"
        );
        assert!(id("d-1-py3-none-any.whl").is_err());
        assert!(id("nonsense.whl").is_err());
    }

    #[test]
    fn manifest_fields() {
        let m = "[\n{\"file\": \"a.whl\", \"image\": \"img:1\", \"source_date_epoch\": \"17\"},\n{\"file\": \"b.whl\", \"image\": \"x\", \"source_date_epoch\": null}\n]\n";
        assert_eq!(
            manifest_field(m, "a.whl", "image").as_deref(),
            Some("img:1")
        );
        assert_eq!(
            manifest_field(m, "a.whl", "source_date_epoch").as_deref(),
            Some("17")
        );
        assert_eq!(manifest_field(m, "b.whl", "source_date_epoch"), None);
        assert_eq!(manifest_field(m, "c.whl", "image"), None);
    }
}
