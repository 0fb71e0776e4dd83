//! The container engine: which program, which daemon, native or emulated;
//! its images (image.rs) and the containers a run starts, always labelled,
//! always removed (container.rs).

use std::process::Command;

use anyhow::{bail, Result};
use camino::Utf8PathBuf;
use xshell::{cmd, Shell};

use crate::config::EngineSpec;
use crate::platform::Arch;

mod container;
mod image;

pub use container::{
    exec_command, start_failure_fix, CommandAfterReady, Container, ContainerSpec, OutputAfterReady,
    ReadyingFailed, StartScript,
};
pub use image::{short_id, DerivedImage, ImageBuild};

/// Every container, volume and image this tool creates carries this label,
/// so that what a run leaves behind can be found.
pub const LABEL: &str = "org.xtask-wheels";
/// The label (with its value) of every container this tool starts: a
/// container of one of its images started by anyone else inherits the
/// image's `LABEL=image` instead.
pub const CONTAINER_LABEL: &str = "org.xtask-wheels=container";

impl EngineSpec {
    /// The client program; None for the default, which is detected.
    fn client(&self) -> Option<&'static str> {
        match self {
            EngineSpec::Default => None,
            EngineSpec::Context(_) | EngineSpec::Host(_) => Some("docker"),
            EngineSpec::Podman(_) => Some("podman"),
        }
    }

    /// The client's global options that pick the daemon.
    fn endpoint(&self) -> Vec<String> {
        match self {
            EngineSpec::Default | EngineSpec::Podman(None) => Vec::new(),
            EngineSpec::Context(c) => vec!["--context".into(), c.clone()],
            EngineSpec::Host(h) => vec!["--host".into(), h.clone()],
            EngineSpec::Podman(Some(url)) => vec!["--url".into(), url.clone()],
        }
    }
}

#[derive(Clone, Debug)]
pub struct Engine {
    pub program: Utf8PathBuf,
    /// Global options that pick the daemon (such as `--host URL`); empty for
    /// the client's own default.
    pub endpoint: Vec<String>,
    /// The daemon's API version once asked (see `pin_api`).
    pub api: Option<String>,
}

/// The same engine, whether or not its API version was asked.
impl PartialEq for Engine {
    fn eq(&self, other: &Engine) -> bool {
        (&self.program, &self.endpoint) == (&other.program, &other.endpoint)
    }
}

/// What an engine says of itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Server {
    pub version: String,
    /// The architecture containers run on natively, in Docker's words (`amd64`, `arm64`).
    pub arch: String,
    /// Docker's API version (podman's CLI has no use for it).
    pub api: Option<String>,
}

impl Server {
    /// Whether `arch` runs natively there (else under emulation).
    pub fn native(&self, arch: Arch) -> bool {
        Arch::from_docker_name(&self.arch).is_some_and(|machine| arch.runs_natively_on(machine))
    }
}

fn on_path(name: &str) -> Option<Utf8PathBuf> {
    which::which(name)
        .ok()
        .and_then(|p| Utf8PathBuf::from_path_buf(p).ok())
}

impl Engine {
    /// `XTASK_ENGINE` first, then `docker`, then `podman` on PATH.
    pub fn detect() -> Result<Engine> {
        let explicit = std::env::var("XTASK_ENGINE").ok().filter(|s| !s.is_empty());
        let candidates: Vec<String> = match &explicit {
            Some(e) => vec![e.clone()],
            None => vec!["docker".into(), "podman".into()],
        };
        if let Some(program) = candidates.iter().find_map(|name| on_path(name)) {
            return Ok(Engine {
                program,
                endpoint: Vec::new(),
                api: None,
            });
        }
        match explicit {
            Some(e) => bail!("container engine `{e}` (from XTASK_ENGINE) is not on PATH: install it or unset XTASK_ENGINE"),
            None => bail!(
                "no container engine: neither `docker` nor `podman` is on PATH; install Docker (Debian/Ubuntu: `apt-get install docker.io`)"
            ),
        }
    }

    /// The engine `spec` names; only finds the client, asks the daemon nothing.
    pub fn from_spec(spec: &EngineSpec) -> Result<Engine> {
        let Some(name) = spec.client() else {
            return Engine::detect();
        };
        let program = on_path(name).ok_or_else(|| {
            anyhow::anyhow!(
                "engine `{spec}` needs the `{name}` client, which is not on PATH: install it"
            )
        })?;
        Ok(Engine {
            program,
            endpoint: spec.endpoint(),
            api: None,
        })
    }

    /// The engine a subcommand runs with: found, and its daemon answering.
    /// Under `--dry-run` nothing is asked of the daemon, and an engine that is
    /// not installed is named by its client in the printed commands.
    pub fn ready(sh: &Shell, dry_run: bool, spec: &EngineSpec) -> Result<Engine> {
        let mut engine = Engine::chosen(dry_run, spec)?;
        if !dry_run {
            let server = engine.server(sh)?;
            engine.pin_api(&server);
        }
        Ok(engine)
    }

    /// Whether this engine runs `arch` natively (else under emulation), as
    /// its daemon said (`server`); under `--dry-run`, asked nothing, a local
    /// daemon runs this machine's arch.
    pub fn native(&self, server: Option<&Server>, arch: Arch) -> bool {
        match server {
            Some(server) => server.native(arch),
            None => self.is_local() && arch.is_native_here(),
        }
    }

    /// The engine `spec` names, not yet asked anything; under `--dry-run`
    /// one that is not installed is named by its client.
    pub fn chosen(dry_run: bool, spec: &EngineSpec) -> Result<Engine> {
        match Engine::from_spec(spec) {
            Err(_) if dry_run => Ok(Engine {
                program: spec.client().unwrap_or("docker").into(),
                endpoint: spec.endpoint(),
                api: None,
            }),
            chosen => chosen,
        }
    }

    /// The client, with the options that pick this engine's daemon.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(self.program.as_str());
        cmd.args(&self.endpoint);
        if let Some(api) = &self.api {
            cmd.env("DOCKER_API_VERSION", api);
        }
        cmd
    }

    /// Removes a container of ours, whatever state it is in.
    pub fn rm(&self, name: &str) -> Command {
        let mut cmd = self.command();
        cmd.args(["rm", "--force", "--volumes", name]);
        cmd
    }

    /// Waits (two minutes at most) until container `name` is no more: the
    /// engine no longer knows it, or cannot be asked.
    pub fn wait_gone(&self, name: &str) {
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(120) {
            let known = self
                .command()
                .args(["container", "inspect", "--format", "{{.Id}}", name])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !known {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Spares each later docker command its API version negotiation (a
    /// round trip to the daemon, about 13 ms here), with the version the
    /// daemon told; a DOCKER_API_VERSION of the user's own is left alone.
    pub fn pin_api(&mut self, server: &Server) {
        if std::env::var_os("DOCKER_API_VERSION").is_none() && !self.is_podman() {
            self.api = server.api.clone();
        }
    }

    pub fn name(&self) -> &str {
        self.program.file_name().unwrap_or("docker")
    }

    /// `cp` between a container and the host; docker's progress output off
    /// (podman has no such output, and no `--quiet`).
    pub fn cp(&self, from: &str, to: &str) -> Command {
        let mut cmd = self.command();
        cmd.arg("cp");
        if !self.is_podman() {
            cmd.arg("--quiet");
        }
        cmd.args([from, to]);
        cmd
    }

    pub fn is_podman(&self) -> bool {
        self.name().starts_with("podman")
    }

    /// How messages name the engine: the client and what picks its daemon.
    pub fn describe(&self) -> String {
        let mut words = vec![self.name().to_string()];
        words.extend(self.endpoint.iter().cloned());
        if self.endpoint.is_empty() && !self.is_podman() {
            if let Ok(host) = std::env::var("DOCKER_HOST") {
                words.push(format!("(DOCKER_HOST={host})"));
            }
        }
        words.join(" ")
    }

    /// Whether the daemon runs on this machine, so that this machine's
    /// binfmt handlers are the ones its containers use.
    pub fn is_local(&self) -> bool {
        let host = match self.endpoint.as_slice() {
            [] if self.is_podman() => return true,
            [] => std::env::var("DOCKER_HOST").unwrap_or_default(),
            [flag, value] if flag == "--host" || flag == "--url" => value.clone(),
            _ => return false,
        };
        host.is_empty() || host.starts_with("unix://")
    }

    /// The daemon's version and architecture; fails with the fix when it does not answer.
    pub fn server(&self, sh: &Shell) -> Result<Server> {
        let (program, endpoint) = (&self.program, &self.endpoint);
        let out = if self.is_podman() {
            let format = "{{.Version.Version}}|{{.Host.Arch}}|";
            cmd!(sh, "{program} {endpoint...} info --format {format}")
        } else {
            let format = "{{.Server.Version}}|{{.Server.Arch}}|{{.Server.APIVersion}}";
            cmd!(sh, "{program} {endpoint...} version --format {format}")
        }
        .quiet()
        .ignore_status()
        .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<&str> = text.trim().split('|').collect();
        if let (true, [version, arch, api]) = (out.status.success(), fields.as_slice()) {
            return Ok(Server {
                version: version.to_string(),
                arch: arch.to_string(),
                api: Some(api.to_string()).filter(|a| !a.is_empty()),
            });
        }
        let reason = crate::util::last_line(&out.stderr, "no answer");
        bail!(
            "the engine `{}` is not reachable ({reason}): {}",
            self.describe(),
            self.reach_fix()
        )
    }

    /// What to do when the daemon does not answer, by how it is reached.
    fn reach_fix(&self) -> String {
        let target = self.endpoint.get(1).map(String::as_str).unwrap_or("");
        if let Some(rest) = target.strip_prefix("ssh://") {
            let host = rest.split('/').next().unwrap_or(rest);
            let login = match host.rsplit_once(':') {
                Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                    format!("-p {port} {host}")
                }
                _ => host.to_string(),
            };
            format!("check that `ssh {login} docker version` works (key login, the user in the docker group), and that sshd runs there")
        } else if self.endpoint.first().map(String::as_str) == Some("--context") {
            format!(
                "check the context with `docker context inspect {target}` and that its daemon runs"
            )
        } else if self.is_podman() {
            "check `podman info` (for a URL: that `podman system service` listens there)".into()
        } else if self.is_local() {
            "start it (`sudo systemctl start docker`, or `sudo dockerd &`)".into()
        } else {
            "check the address and that the daemon listens there".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_specs() {
        let ok = |v: &str| EngineSpec::parse(v).unwrap();
        assert_eq!(ok("docker"), EngineSpec::Default);
        assert_eq!(ok("podman"), EngineSpec::Podman(None));
        assert_eq!(ok("arm-box"), EngineSpec::Context("arm-box".into()));
        assert_eq!(
            ok("ssh://me@10.0.0.2:2222"),
            EngineSpec::Host("ssh://me@10.0.0.2:2222".into())
        );
        assert_eq!(
            ok("tcp://arm:2376"),
            EngineSpec::Host("tcp://arm:2376".into())
        );
        assert_eq!(
            ok("unix:///run/d2.sock"),
            EngineSpec::Host("unix:///run/d2.sock".into())
        );
        assert_eq!(
            ok("podman+ssh://me@pi/run/podman/podman.sock"),
            EngineSpec::Podman(Some("ssh://me@pi/run/podman/podman.sock".into()))
        );
        assert_eq!(ok("ssh://me@pi").endpoint(), ["--host", "ssh://me@pi"]);
        assert_eq!(ok("arm-box").endpoint(), ["--context", "arm-box"]);
        assert_eq!(ok("podman+unix:///s").endpoint(), ["--url", "unix:///s"]);
        for (bad, says) in [
            ("", "the engine is empty"),
            ("http://x", "not an engine URL"),
            ("ssh://", "not an engine URL"),
            ("podman+http://x", "not a podman URL"),
            ("my box", "neither a Docker context name nor an engine URL"),
            ("-H", "neither a Docker context name"),
        ] {
            let e = EngineSpec::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_container_label_is_the_label_with_its_value() {
        assert_eq!(CONTAINER_LABEL, format!("{LABEL}=container"));
    }

    #[test]
    fn local_or_remote() {
        let engine = |endpoint: &[&str]| Engine {
            program: "/usr/bin/docker".into(),
            endpoint: endpoint.iter().map(|s| s.to_string()).collect(),
            api: None,
        };
        assert!(engine(&["--host", "unix:///run/d2.sock"]).is_local());
        assert!(!engine(&["--host", "ssh://me@pi"]).is_local());
        assert!(!engine(&["--context", "arm"]).is_local());
        assert_eq!(
            engine(&["--host", "ssh://me@pi"]).describe(),
            "docker --host ssh://me@pi"
        );
        let server = Server {
            version: "28".into(),
            arch: "arm64".into(),
            api: Some("1.41".into()),
        };
        assert!(server.native(Arch::Aarch64));
        assert!(!server.native(Arch::X86_64));
        // The API version the daemon told goes on every later command.
        let mut docker = engine(&[]);
        docker.pin_api(&server);
        let command = docker.command();
        let pinned: Vec<_> = command.get_envs().collect();
        if std::env::var_os("DOCKER_API_VERSION").is_none() {
            let api = (
                std::ffi::OsStr::new("DOCKER_API_VERSION"),
                Some(std::ffi::OsStr::new("1.41")),
            );
            assert_eq!(pinned, [api]);
        }
        assert_eq!(docker, engine(&[]), "the same engine, asked or not");
    }
}
