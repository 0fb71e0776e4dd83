//! What a run builds and how, decided before any build container starts:
//! each target's interpreters listed (once per image, see
//! `Engine::list_interpreters`), the selection made once, and every build's
//! recipe. The run (builds.rs) carries out these recipes and the dry run
//! (recipe.rs's `print_dry_run`) prints them: the two cannot differ.

use anyhow::Result;

use super::recipe::{lone_allowed, Recipe};
use super::select::{Build, Offer, Selected};
use super::target::{runnable, Target};
use super::Plan;
use crate::platform::Selection;
use crate::util::{usage, Runner};

/// The run's builds and their recipes.
pub(super) struct Decision {
    /// One per build of the targets that can run, in the selection's order.
    pub recipes: Vec<Recipe>,
    /// The builds of targets that cannot run here: they fail, saying why.
    pub blocked: Vec<Build>,
    /// Whether the one recipe runs in its container's first process (see
    /// `lone_allowed`), saving the round trip of an exec.
    pub lone: bool,
}

impl Decision {
    /// The recipe the container's first process runs, if any.
    pub fn lone_recipe(&self) -> Option<&Recipe> {
        self.lone.then(|| &self.recipes[0])
    }
}

/// Lists each target's interpreters, selects the builds and makes each
/// build's recipe. `targets` are in `run_planned`'s order: those that can
/// run first.
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
    let runnable = runnable(targets);
    let (builds, blocked): (Vec<_>, Vec<_>) = builds.into_iter().partition(|b| b.target < runnable);
    let lone = builds.len() == 1 && lone_allowed(plan, &targets[..runnable], runner.secrets);
    let build_env = plan.build_env(builds.len());
    let recipes = builds
        .into_iter()
        .map(|b| Recipe::new(plan, &targets[b.target], b, &build_env))
        .collect();
    Ok(Decision {
        recipes,
        blocked,
        lone,
    })
}

/// The interpreter folders target `t`'s image offers. A dry run whose image
/// is not here (the run would pull it) shows the usual folders of the
/// interpreters named, and says so; with `all` it cannot know them.
fn interpreters(runner: &Runner, plan: &Plan, t: &Target) -> Result<Vec<String>> {
    if t.image_id.is_empty() && runner.dry_run {
        return match &plan.selector.pythons {
            Selection::Tags(tags) => {
                eprintln!(
                    "==> {}: image `{}` is not here to list (the run pulls it first): shown with the usual folders of the interpreters named",
                    t.name(),
                    t.image
                );
                Ok(tags.iter().map(|p| p.dir_guess()).collect())
            }
            Selection::All => Err(usage(format!(
                "the dry run lists the interpreters of image `{}`, which is not here: pull it first (`docker pull {}`), or name the interpreters with --py",
                t.image, t.image
            ))),
        };
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
