//! What a run builds and how, decided before any build container starts:
//! each target's interpreters listed (once per image, see
//! `Engine::list_interpreters`), the selection made once, the native
//! CPython of each emulated build that can have one (the cross
//! environment), and every build's recipe. The run (builds.rs) carries out these recipes and the dry run
//! (`print_dry_run`, below) prints them: the two cannot differ.

use std::process::Command;

use anyhow::{Context, Result};

use super::containers::inputs_size;
use super::contract::{container_scripts, script_files, INPUTS};
use super::order::Times;
use super::plan::Plan;
use super::recipe::{
    cache_volume_command, cache_volumes, copies_natives, lone_allowed, native_dirs, ContainerStart,
    Recipe,
};
use super::select::{Build, Offer, Selected};
use super::target::{runnable, target_of, Target};
use crate::native;
use crate::platform::BuildId;
use crate::util::{self, usage, Runner};

/// The run's builds and their recipes.
pub(super) struct Decision {
    /// One per build of the targets that can run, in the selection's order
    /// (the summary's).
    pub recipes: Vec<Recipe>,
    /// The builds of targets that cannot run here: they fail, saying why.
    pub blocked: Vec<Build>,
    /// Whether the one recipe runs in its container's first process (see
    /// `lone_allowed`), saving the round trip of an exec.
    pub lone: bool,
    /// The order the recipes start in (indices into `recipes`; see `Times`).
    pub order: Vec<usize>,
    /// Whether that order comes from the package's last run's times.
    pub by_times: bool,
}

impl Decision {
    /// The recipe the container's first process runs, if any.
    pub fn lone_recipe(&self) -> Option<&Recipe> {
        self.lone.then(|| &self.recipes[0])
    }

    /// The line that starts the builds: how many, how many at a time, in
    /// what order.
    pub fn headline(&self, plan: &Plan) -> String {
        let n = self.recipes.len();
        let order = match self.by_times {
            true => ", longest first by the last run's times",
            false => "",
        };
        format!("==> {n} builds, {} at a time{order}", plan.workers(n))
    }
}

/// Lists each target's interpreters, selects the builds and makes each
/// build's recipe.
pub(super) fn decide(runner: &Runner, plan: &Plan, targets: &[Target]) -> Result<Decision> {
    let listed: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .iter()
            .map(|t| s.spawn(|| interpreters(runner, plan, t)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a listing thread panicked"))
            .collect::<Result<Vec<_>>>()
    })?;
    let offers: Vec<Offer> = targets
        .iter()
        .zip(&listed)
        .map(|(t, dirs)| Offer {
            arch: t.arch,
            libc: t.libc,
            image: &t.image,
            dirs,
        })
        .collect();
    let Selected { builds, excluded } = plan.selector.builds(&offers)?;
    for line in excluded {
        eprintln!("==> {line}");
    }
    let (builds, blocked): (Vec<_>, Vec<_>) = builds
        .into_iter()
        .partition(|b| target_of(targets, &b.id).blocked.is_none());
    let lone = builds.len() == 1 && lone_allowed(plan, &runnable(targets), runner.secrets);
    let build_env = plan.build_env(builds.len());
    let pythons = choose_native_pythons(runner, targets, &builds)?;
    let recipes: Vec<Recipe> = builds
        .into_iter()
        .map(|b| {
            let python = pythons
                .iter()
                .find(|(id, _)| *id == b.id)
                .map(|(_, p)| p.clone());
            Recipe::new(plan, target_of(targets, &b.id), b, &build_env, python)
        })
        .collect();
    let times = Times::read(&Times::file(&plan.root.join(&plan.package), &plan.out));
    let kinds: Vec<(&BuildId, bool)> = recipes
        .iter()
        .map(|r| (&r.build.id, target_of(targets, &r.build.id).native))
        .collect();
    let order = times.start_order(&kinds);
    let by_times = times.knows_any(&kinds);
    Ok(Decision {
        recipes,
        blocked,
        lone,
        order,
        by_times,
    })
}

/// The builds that get a native CPython: of an emulated target whose native
/// image offers the same interpreter (a CPython: PyPy and GraalPy builds
/// run theirs emulated), each laid out once per image and interpreter (the
/// dry run names where it is kept). A line per target says which builds
/// run their frontend and backend natively, and why the others do not.
fn choose_native_pythons(
    runner: &Runner,
    targets: &[Target],
    builds: &[Build],
) -> Result<Vec<(BuildId, native::Python)>> {
    let mut pythons = Vec::new();
    for t in targets {
        let mine: Vec<&Build> = builds.iter().filter(|b| t.builds(&b.id)).collect();
        let native = match &t.native_image {
            None => continue,
            Some(_) if mine.is_empty() => continue,
            Some(Err(why)) => {
                eprintln!(
                    "==> {}: the builds run their Python emulated: {why}",
                    t.name()
                );
                continue;
            }
            Some(Ok(native)) => native,
        };
        let offered = t
            .engine
            .list_interpreters(&native.image, &native.id, native.arch)
            .with_context(|| format!("listing the interpreters of `{}`", native.image))?;
        let (mut cross, mut other, mut absent, mut failed) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for b in mine {
            let dir = b.dir.as_str();
            if !dir.starts_with("cp") {
                other.push(dir);
                continue;
            }
            if !offered.iter().any(|o| o == dir) {
                absent.push(dir);
                continue;
            }
            let python = match runner.dry_run {
                true => Ok(native::python_path(&native.id, dir)),
                false => native::python(&t.engine, &native.image, &native.id, dir),
            };
            match python {
                Ok(python) => {
                    cross.push(dir);
                    pythons.push((b.id.clone(), python));
                }
                Err(e) => failed.push(format!("{dir} runs its Python emulated: {e:#}")),
            }
        }
        let mut said = Vec::new();
        if !cross.is_empty() {
            said.push(format!(
                "the build frontend and backend of {} run in the native CPython of `{}` (cross environment)",
                cross.join(", "),
                native.image
            ));
        }
        said.extend(failed);
        if !absent.is_empty() {
            said.push(format!(
                "{} run theirs emulated: `{}` has no such interpreter",
                absent.join(", "),
                native.image
            ));
        }
        if !other.is_empty() {
            said.push(format!(
                "{} run theirs emulated: the cross environment is CPython's",
                other.join(", ")
            ));
        }
        eprintln!("==> {}: {}", t.name(), said.join("; "));
    }
    Ok(pythons)
}

/// The interpreter folders target `t`'s image offers. A dry run whose image
/// is not here (the run would pull it) takes them from the pinned table, or
/// names the builds from the selection and says so.
fn interpreters(runner: &Runner, plan: &Plan, t: &Target) -> Result<Vec<String>> {
    if t.image_id.is_empty() && runner.dry_run {
        let (dirs, line) =
            crate::pins::offered_unlisted(&t.image, t.arch, t.libc, &plan.selector.pythons);
        if let Some(line) = line {
            eprintln!("==> {}: {line}", t.name());
        }
        return Ok(dirs);
    }
    t.engine
        .list_interpreters(&t.image, &t.image_id, t.arch)
        .map_err(|e| match format!("{e:#}").contains("has no /opt/python") {
            true => usage(format!(
                "image `{}` is not a {} image: it has no /opt/python (expected /opt/python/<tag>/bin/python, as in {})",
                t.image,
                t.libc,
                crate::config::Config::default().image(t.arch, t.libc)
            )),
            false => e.context(format!(
                "{} builds: listing the interpreters of `{}`",
                t.name(),
                t.image
            )),
        })
}

/// The dry run: each command the run would carry out, from the run's own
/// decision (its builds and their recipes), shell-quoted, in the run's
/// order: the cache volumes, then per target its container's start, the
/// copies in, and its builds.
pub(super) fn print_dry_run(
    plan: &Plan,
    targets: &[&Target],
    decision: &Decision,
    secrets: &[String],
) -> Result<()> {
    let q = |c: &Command| util::command_line(c, &[]);
    for (engine, volume) in cache_volumes(plan, targets) {
        println!("{}", q(&cache_volume_command(engine, &volume)));
    }
    eprintln!("{}", decision.headline(plan));
    // The audit runs on the host once the wheel is there (its name is known
    // then): said once per audit, not printed as a command.
    let mut audits: Vec<&super::audit::Audit> = Vec::new();
    for audit in decision.recipes.iter().filter_map(|r| r.audit.as_ref()) {
        if !audits.contains(&audit) {
            audits.push(audit);
            eprintln!(
                "==> each wheel audited on the host before it lands, in an environment with {}: {} ({{abi3_wheel}}: abi3 wheels only)",
                audit.requires.join(" "),
                audit.commands.join(" && ")
            );
        }
    }
    let scripts = script_files(&container_scripts())?;
    let tar = plan.tar_command();
    // The inputs' size, the first argument of each start that sends them:
    // counted once (the host's tar reads the whole tree).
    let mut size: Option<u64> = None;
    for &t in targets {
        let mut start = ContainerStart::new(
            plan,
            t,
            "RUN",
            scripts.clone(),
            &decision.recipes,
            decision.lone_recipe(),
        );
        let line = match start.unpack {
            true => {
                let size = match size {
                    Some(size) => size,
                    None => *size.insert(inputs_size(plan)?),
                };
                start.first.args[0] = size.to_string();
                start
                    .spec
                    .shown(&t.engine, &start.first, secrets, Some(&tar))
            }
            false => start.spec.shown(&t.engine, &start.first, secrets, None),
        };
        println!("{line}");
        let name = &start.spec.name;
        for (key, dir) in &plan.input_dirs {
            let dest = format!("{name}:{INPUTS}/{key}");
            println!("{}", q(&t.engine.cp(&format!("{dir}/."), &dest)));
        }
        if copies_natives(t) {
            for (from, to) in native_dirs(&decision.recipes, t) {
                println!(
                    "{}",
                    q(&t.engine.cp(&format!("{from}/."), &format!("{name}:{to}")))
                );
            }
        }
        let started = decision.order.iter().map(|&i| &decision.recipes[i]);
        for recipe in started.filter(|r| t.builds(&r.build.id)) {
            let root = util::shell_quote(plan.root.as_str());
            if let Some(pre) = &recipe.pre_build {
                println!("(cd {root} && {})", q(pre));
            }
            if let Some(unpack) = recipe.unpack_inputs(&t.engine, name) {
                println!("{} | {}", q(&plan.tar_command()), q(&unpack));
            }
            // A lone build runs in the container's first process.
            if !decision.lone {
                println!("{}", recipe.exec_line(&t.engine, name, secrets));
            }
            if let Some(post) = &recipe.post_build {
                println!("(cd {root} && {})", q(post));
            }
        }
    }
    Ok(())
}
