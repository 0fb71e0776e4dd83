//! The container engine: which program, what its images are, and the
//! containers a run starts (always labelled, always removed).

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use crate::platform::Arch;
use crate::util::{shell_quote, Runner, Undo, UndoGuard};

/// Every container, volume and image this tool creates carries this label,
/// so that what a run leaves behind can be found.
pub const LABEL: &str = "org.xtask-wheels";

/// Which engine an architecture builds on, as the user wrote it: a Docker
/// context name, an engine URL, or podman (local or by URL).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum EngineSpec {
    /// What the docker CLI uses now (its environment, its current context);
    /// `XTASK_ENGINE`, else `docker`, else `podman`.
    #[default]
    Default,
    Context(String),
    /// `unix://`, `tcp://` or `ssh://user@host[:port]`.
    Host(String),
    /// Local podman, or podman at a URL (written `podman+ssh://...`).
    Podman(Option<String>),
}

impl EngineSpec {
    pub fn parse(value: &str) -> Result<EngineSpec, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err("the engine is empty: give a Docker context name, an engine URL (unix://, tcp://, ssh://user@host), or podman".into());
        }
        if value == "docker" {
            return Ok(EngineSpec::Default);
        }
        if value == "podman" {
            return Ok(EngineSpec::Podman(None));
        }
        let url_ok = |url: &str| {
            let (scheme, rest) = url.split_once("://")?;
            (["unix", "tcp", "ssh"].contains(&scheme) && !rest.is_empty()).then_some(())
        };
        if let Some(url) = value.strip_prefix("podman+") {
            return url_ok(url)
                .map(|()| EngineSpec::Podman(Some(url.to_string())))
                .ok_or_else(|| format!("engine `{value}` is not a podman URL: write podman+unix:///path, podman+tcp://host:port or podman+ssh://user@host[:port]/socket"));
        }
        if value.contains("://") {
            return url_ok(value)
                .map(|()| EngineSpec::Host(value.to_string()))
                .ok_or_else(|| format!("engine `{value}` is not an engine URL: use unix:///path, tcp://host:port or ssh://user@host[:port]"));
        }
        let context_ok = value
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b));
        if context_ok {
            Ok(EngineSpec::Context(value.to_string()))
        } else {
            Err(format!("engine `{value}` is neither a Docker context name nor an engine URL: give a context (`docker context ls`), unix://, tcp://, ssh://user@host, or podman"))
        }
    }
}

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

impl std::fmt::Display for EngineSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineSpec::Default => f.write_str("the default engine"),
            EngineSpec::Context(c) => write!(f, "context {c}"),
            EngineSpec::Host(h) => f.write_str(h),
            EngineSpec::Podman(None) => f.write_str("podman"),
            EngineSpec::Podman(Some(url)) => write!(f, "podman+{url}"),
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
        Arch::from_docker_name(&self.arch) == Some(arch)
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
        Ok(Engine::answering(sh, dry_run, spec)?.0)
    }

    /// As `ready`, with what the daemon said of itself (None under `--dry-run`).
    pub fn answering(
        sh: &Shell,
        dry_run: bool,
        spec: &EngineSpec,
    ) -> Result<(Engine, Option<Server>)> {
        let mut engine = Engine::chosen(dry_run, spec)?;
        if dry_run {
            return Ok((engine, None));
        }
        let server = engine.server(sh)?;
        engine.pin_api(&server);
        Ok((engine, Some(server)))
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
        let stderr = String::from_utf8_lossy(&out.stderr);
        let reason = stderr
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no answer");
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

    /// What the engine knows of a local image, or None when it has no such image.
    pub fn inspect_image(&self, sh: &Shell, image: &str) -> Result<Option<ImageInfo>> {
        let (program, endpoint) = (&self.program, &self.endpoint);
        let format = "{{.Id}}\n{{.Architecture}}\n{{range $k, $v := .Config.Labels}}label {{$k}}={{$v}}\n{{end}}{{range .Config.Env}}env {{.}}\n{{end}}";
        let out = cmd!(
            sh,
            "{program} {endpoint...} image inspect --format {format} {image}"
        )
        .quiet()
        .ignore_status()
        .output()?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if stderr.to_lowercase().contains("no such image") || stderr.contains("image not known")
            {
                return Ok(None);
            }
            bail!(
                "`{} image inspect {image}` failed: {}",
                self.name(),
                stderr.trim()
            );
        }
        Ok(Some(ImageInfo::parse(&String::from_utf8_lossy(
            &out.stdout,
        ))))
    }

    /// The image, pulled when it is not here (or always, with `pull`).
    pub fn ensure_image(
        &self,
        sh: &Shell,
        run: &Runner,
        image: &str,
        arch: Arch,
        pull: bool,
    ) -> Result<Option<ImageInfo>> {
        let local = self.inspect_image(sh, image)?;
        if local.is_some() && !pull {
            return Ok(local);
        }
        let (program, endpoint) = (&self.program, &self.endpoint);
        let platform = arch.docker_platform();
        run.run(cmd!(sh, "{program} {endpoint...} pull --platform {platform} {image}")).map_err(|_| {
            anyhow::anyhow!(
                "image `{image}` is not here and could not be pulled (the engine's reason is above): check the name and your registry login; without a registry, `cargo xtask standin` builds offline stand-ins (`wheels --standin` uses them)"
            )
        })?;
        if run.dry_run {
            return Ok(local);
        }
        self.inspect_image(sh, image)?
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("`{image}` is still missing after the pull"))
    }

    /// The entries of a folder of an image, read without running anything in
    /// it (a created container, copied from), so no emulation is needed.
    pub fn list_image_dir(&self, image: &str, arch: Arch, dir: &str) -> Result<Vec<String>> {
        let name = format!("xtask-list-{}", crate::util::run_id());
        let _guard = UndoGuard::new(Undo::Container {
            engine: self.clone(),
            name: name.clone(),
        });
        let create = self
            .command()
            .args(["create", "--name", &name, "--label"])
            .arg(format!("{LABEL}=container"))
            .args([
                "--platform",
                &arch.docker_platform(),
                "--entrypoint",
                "true",
                image,
            ])
            .stdin(Stdio::null())
            .output()
            .context("creating a container to list the image")?;
        if !create.status.success() {
            bail!(
                "cannot create a container of `{image}` on {}: {}",
                self.describe(),
                String::from_utf8_lossy(&create.stderr).trim()
            );
        }
        let mut cp = self
            .command()
            .args(["cp", &format!("{name}:{dir}"), "-"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("copying from the listing container")?;
        let list = Command::new("tar")
            .args(["--list", "--file=-"])
            .stdin(cp.stdout.take().expect("piped"))
            .output()
            .context("starting tar (is it installed?)")?;
        let cp = cp.wait_with_output()?;
        if !cp.status.success() {
            bail!(
                "image `{image}` has no {dir}: {}",
                String::from_utf8_lossy(&cp.stderr).trim()
            );
        }
        // Entries are `python/`, `python/cp312-cp312/...`: keep the second part, once.
        let mut names: Vec<String> = Vec::new();
        for line in String::from_utf8_lossy(&list.stdout).lines() {
            if let Some(entry) = line.split('/').nth(1).filter(|e| !e.is_empty()) {
                if !names.iter().any(|n| n == entry) {
                    names.push(entry.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// Builds an image from a context unless an image with that tag already
    /// carries the same inputs hash. Returns whether it built.
    pub fn build_if_changed(&self, sh: &Shell, run: &Runner, spec: &ImageBuild) -> Result<bool> {
        if self.up_to_date(sh, &spec.tag, &spec.inputs)? {
            return Ok(false);
        }
        run.run(self.build_command(sh, spec))?;
        Ok(true)
    }

    /// Whether an image `tag` exists that was built from `inputs` (says so when it is).
    pub fn up_to_date(&self, sh: &Shell, tag: &str, inputs: &str) -> Result<bool> {
        let info = self.inspect_image(sh, tag)?;
        let fresh = info.is_some_and(|i| i.label(INPUTS_LABEL) == Some(inputs));
        if fresh {
            eprintln!("{tag} is up to date (inputs {inputs})");
        }
        Ok(fresh)
    }

    /// Builds `tag` from a context whose Dockerfile starts `FROM ${BASE}`: the
    /// base is pulled only when missing (or with `pull`), and nothing is built
    /// when neither the context nor the base image changed.
    pub fn build_on_base(
        &self,
        sh: &Shell,
        run: &Runner,
        derived: DerivedImage<'_>,
    ) -> Result<bool> {
        let DerivedImage {
            base,
            tag,
            arch,
            context,
            mut build_args,
            pull,
        } = derived;
        let info = self.ensure_image(sh, run, base, arch, pull)?;
        if let Some(info) = &info {
            info.check_arch(base, arch)?;
        }
        let mut hash = crate::util::Fnv::default();
        hash.write_tree(context)?;
        hash.write(info.map(|i| i.id).unwrap_or_default().as_bytes());
        build_args.insert(0, ("BASE".to_string(), base.to_string()));
        for (k, v) in &build_args {
            hash.write(format!("{k}={v}").as_bytes());
        }
        let spec = ImageBuild {
            tag: tag.to_string(),
            arch,
            context: context.to_path_buf(),
            build_args,
            inputs: hash.hex(),
        };
        self.build_if_changed(sh, run, &spec)
    }

    pub fn build_command(&self, sh: &Shell, spec: &ImageBuild) -> Command {
        let (program, endpoint) = (&self.program, &self.endpoint);
        let platform = spec.arch.docker_platform();
        let tag = &spec.tag;
        let context = &spec.context;
        let mut args = vec![
            "--label".to_string(),
            format!("{LABEL}=image"),
            "--label".to_string(),
            format!("{INPUTS_LABEL}={}", spec.inputs),
            "--label".to_string(),
            format!("{ARCH_LABEL}={}", spec.arch),
        ];
        for (k, v) in &spec.build_args {
            args.push("--build-arg".into());
            args.push(format!("{k}={v}"));
        }
        cmd!(
            sh,
            "{program} {endpoint...} build --platform {platform} {args...} --tag {tag} {context}"
        )
        .into()
    }
}

pub const INPUTS_LABEL: &str = "org.xtask-wheels.inputs";
pub const ARCH_LABEL: &str = "org.xtask-wheels.arch";

pub struct DerivedImage<'a> {
    pub base: &'a str,
    pub tag: &'a str,
    pub arch: Arch,
    pub context: &'a Utf8Path,
    pub build_args: Vec<(String, String)>,
    pub pull: bool,
}

pub struct ImageBuild {
    pub tag: String,
    pub arch: Arch,
    pub context: Utf8PathBuf,
    pub build_args: Vec<(String, String)>,
    /// Hash of everything the image is made from.
    pub inputs: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageInfo {
    pub id: String,
    pub arch: String,
    pub labels: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
}

impl ImageInfo {
    fn parse(text: &str) -> ImageInfo {
        let mut lines = text.lines();
        let mut info = ImageInfo {
            id: lines.next().unwrap_or_default().trim().to_string(),
            arch: lines.next().unwrap_or_default().trim().to_string(),
            ..ImageInfo::default()
        };
        for line in lines {
            let split = |s: &str| {
                s.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            };
            if let Some(kv) = line.strip_prefix("label ").and_then(split) {
                info.labels.push(kv);
            } else if let Some(kv) = line.strip_prefix("env ").and_then(split) {
                info.env.push(kv);
            }
        }
        info
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn env(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Fails unless the image is built for `arch`.
    pub fn check_arch(&self, image: &str, arch: Arch) -> Result<()> {
        if self.arch != arch.docker_name() {
            bail!(
                "image `{image}` is built for {}, but {arch} needs a {} image: pick the image for {arch}",
                self.arch,
                arch.docker_name()
            );
        }
        Ok(())
    }
}

/// `docker exec` with the build's environment. A secret goes as `--env NAME`
/// with its value in the client's own environment, so that it appears in no
/// command line (not in `ps`, not in a log).
pub fn exec_command(
    engine: &Engine,
    container: &str,
    env: &[(String, String)],
    secrets: &[String],
    args: &[&str],
) -> Command {
    let mut cmd = engine.command();
    cmd.arg("exec");
    env_args(&mut cmd, env, secrets);
    cmd.arg(container).args(args);
    cmd
}

/// `--env` options of `docker run` or `exec`; a secret's value stays in the
/// client's own environment.
fn env_args(cmd: &mut Command, env: &[(String, String)], secrets: &[String]) {
    for (k, v) in env {
        if secrets.contains(k) {
            cmd.arg("--env").arg(k).env(k, v);
        } else {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
    }
}

/// The resource limits an engine may fail to give a container (`error
/// setting rlimit type N`, N as Linux numbers them): the name `--ulimit` and
/// `default_ulimits` use, and what it limits.
const RLIMITS: &[(u32, &str, &str)] = &[
    (0, "cpu", "CPU time"),
    (1, "fsize", "file size"),
    (2, "data", "data segment"),
    (3, "stack", "stack size"),
    (4, "core", "core file size"),
    (5, "rss", "resident memory"),
    (6, "nproc", "process"),
    (7, "nofile", "open-file"),
    (8, "memlock", "locked memory"),
    (9, "as", "address space"),
    (10, "locks", "file lock"),
    (11, "sigpending", "pending signal"),
    (12, "msgqueue", "message queue"),
    (13, "nice", "nice"),
    (14, "rtprio", "real-time priority"),
    (15, "rttime", "real-time CPU time"),
];

/// The fix for a container start failure this tool knows, as a suffix for its message.
pub fn start_failure_fix(error: &str) -> String {
    let rlimit = error
        .split("error setting rlimit type ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u32>().ok())
        .and_then(|n| RLIMITS.iter().find(|(k, _, _)| *k == n));
    if let Some((_, name, what)) = rlimit {
        // podman as root on hosts whose limits are above what the runtime may
        // set: lower them for the container. A --ulimit given for one limit
        // makes podman drop default_ulimits for all, so the flags come as a
        // set: the two seen here, and the one that failed.
        let mut names = vec!["nproc", "nofile"];
        if !names.contains(name) {
            names.push(name);
        }
        let values: Vec<String> = names.iter().map(|n| format!("{n}=1024:1024")).collect();
        let quoted: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
        let flags: Vec<String> = values
            .iter()
            .map(|v| format!("--container-arg=--ulimit={v}"))
            .collect();
        format!(
            "; the engine cannot give containers the host's {what} limit (RLIMIT_{}, `{name}`): \
             set `default_ulimits = [{}]` under [containers] in containers.conf, \
             or pass {} (a --ulimit for one limit makes podman drop default_ulimits for the others: give them all)",
            name.to_uppercase(),
            quoted.join(", "),
            flags.join(" ")
        )
    } else if error.contains("/dev/net/tun") || error.contains("slirp4netns") {
        "; rootless podman cannot set up networking here: builds need none, so pass --container-arg=--network=none (config: container-args)".into()
    } else {
        String::new()
    }
}

/// What a container is made of: its name (and the run it belongs to), image
/// and arch, `name:/path` volumes, and the user's own create arguments.
pub struct ContainerSpec<'a> {
    pub name: String,
    pub run_id: &'a str,
    pub image: &'a str,
    pub arch: Arch,
    pub volumes: Vec<String>,
    /// Variables of every process in it (such as the emulated CPU model).
    pub env: Vec<(String, String)>,
    pub extra: &'a [String],
    /// `--keep-container`: it is to outlive this tool.
    pub keep: bool,
}

/// What a container's first process does once: a shell script (which ends
/// the container with `exit` when it fails) and its arguments. What it prints
/// on stdout is handed back; then the process waits for its stdin to close,
/// or runs `then`.
pub struct Setup {
    pub script: String,
    pub args: Vec<String>,
    pub then: Option<Then>,
}

/// A command the first process runs after the setup, in place of an exec
/// (one round trip less): the container ends when it ends, or when its
/// stdin closes first. Its environment goes on the `docker run` line.
pub struct Then {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// The output of `Then`'s command: the rest of the first process's stdout,
/// and its error output line by line; and when the command started (when
/// the container said it was ready).
pub struct FirstOutput {
    pub stdout: BufReader<ChildStdout>,
    pub stderr: Receiver<String>,
    pub started: std::time::Instant,
}

/// The line the first process prints when the setup is done.
const READY: &str = "xtask: the container is ready";

/// Why a container's setup failed: its exit status and its error output.
#[derive(Debug)]
pub struct SetupFailed {
    pub code: Option<i32>,
    pub stderr: String,
}

impl std::fmt::Display for SetupFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "exit status {code}: {}", self.stderr.trim()),
            None => write!(f, "ended by a signal: {}", self.stderr.trim()),
        }
    }
}

impl std::error::Error for SetupFailed {}

/// A container that lives as long as this value (and no longer, also on
/// Ctrl-C, and also when this tool is killed): its first process runs
/// attached, and ends when its stdin, held here, closes.
pub struct Container {
    pub engine: Engine,
    pub name: String,
    /// The `docker run` line, as printed (the scripts by their size).
    pub command: String,
    guard: Option<UndoGuard>,
    /// The attached `docker run`; it returns once the engine removed the container.
    client: Mutex<Child>,
    stdin: Option<ChildStdin>,
    keep: bool,
}

impl ContainerSpec<'_> {
    /// The `docker run` command of a build container, attached, with `setup`
    /// as its first process.
    pub fn command(&self, engine: &Engine, setup: &Setup, secrets: &[String]) -> Command {
        let mut cmd = engine.command();
        cmd.args(["run", "--interactive", "--rm", "--name", &self.name]);
        cmd.args(["--label", &format!("{LABEL}=container")]);
        cmd.args(["--label", &format!("{LABEL}.run={}", self.run_id)]);
        cmd.args(["--platform", &self.arch.docker_platform()]);
        cmd.args(["--entrypoint", "", "--workdir", "/"]);
        for v in &self.volumes {
            cmd.args(["--volume", v]);
        }
        env_args(&mut cmd, &self.env, secrets);
        if let Some(then) = &setup.then {
            env_args(&mut cmd, &then.env, secrets);
        }
        cmd.args(self.extra);
        // `cat` returns when this tool closes the container's stdin: at the
        // end, or when it dies, however it dies.
        let wait = match (&setup.then, self.keep) {
            (_, true) => "exec sleep infinity".to_string(),
            (None, false) => "exec cat >/dev/null".to_string(),
            // The command in the background (its stdin is /dev/null), `cat`
            // on the real stdin (fd 3) ending it early.
            (Some(then), false) => {
                let quoted: Vec<String> = then.args.iter().map(|a| shell_quote(a)).collect();
                format!(
                    "exec 3<&0\n{} 3<&- &\nb=$!\n{{ cat <&3 >/dev/null; kill -9 $b; }} 2>/dev/null &\nwait $b",
                    quoted.join(" ")
                )
            }
        };
        let main = format!("{}\necho '{READY}'\n{wait}", setup.script);
        cmd.args([self.image, "sh", "-c", &main, "sh"]);
        cmd.args(&setup.args);
        cmd
    }
}

impl Container {
    /// Starts it, runs `setup` fed with `input`, and returns what the setup
    /// printed (and with `setup.then`, that command's output); registered for
    /// removal before it exists, so no signal can leak it. A failed setup is
    /// a `SetupFailed` error.
    pub fn start(
        engine: &Engine,
        run: &Runner,
        spec: &ContainerSpec,
        setup: &Setup,
        input: Option<ChildStdout>,
    ) -> Result<(Container, String, Option<FirstOutput>)> {
        let guard = UndoGuard::new(Undo::Container {
            engine: engine.clone(),
            name: spec.name.clone(),
        });
        let mut cmd = spec.command(engine, setup, run.secrets);
        // The scripts' texts are arguments: named, not printed.
        let mut shown = engine.command();
        shown.args(cmd.get_args().map(|a| shorten(&a.to_string_lossy())));
        let line = crate::util::command_line(&shown, run.secrets);
        if !run.quiet {
            eprintln!("$ {line}");
        }
        let mut client = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start `{line}`"))?;
        let err = client.stderr.take().expect("piped");
        let (lines, stderr) = std::sync::mpsc::channel();
        // Read to the end even when nobody listens any more: a client whose
        // stderr is closed dies of SIGPIPE at its next word.
        std::thread::spawn(move || {
            let mut err = BufReader::new(err);
            let mut line = Vec::new();
            while err.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let _ = lines.send(String::from_utf8_lossy(&line).trim_end().to_string());
                line.clear();
            }
        });
        let mut stdin = client.stdin.take();
        // The input goes in while the setup's output is read here.
        let feeder = input.map(|mut input| {
            let mut to = stdin.take().expect("piped");
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut input, &mut to);
                to
            })
        });
        let mut output = String::new();
        let mut ready = false;
        let mut stdout = BufReader::new(client.stdout.take().expect("piped"));
        let mut text = String::new();
        while stdout
            .read_line(&mut text)
            .context("reading the container's setup output")?
            > 0
        {
            if text.trim_end() == READY {
                ready = true;
                break;
            }
            output.push_str(&text);
            text.clear();
        }
        if let Some(feeder) = feeder {
            stdin = Some(feeder.join().expect("the input thread panicked"));
        }
        let c = Container {
            engine: engine.clone(),
            name: spec.name.clone(),
            command: line,
            guard: Some(guard),
            client: Mutex::new(client),
            stdin,
            keep: spec.keep,
        };
        if ready {
            let first = setup.then.as_ref().map(|_| FirstOutput {
                stdout,
                stderr,
                started: std::time::Instant::now(),
            });
            return Ok((c, output, first));
        }
        let status = c.wait()?;
        let stderr: Vec<String> = stderr.iter().collect();
        let stderr = stderr.join("\n");
        // 125: the engine could not make or start it; 126, 127: no `sh` in it.
        if matches!(status.code(), Some(125..=127)) {
            let fix = start_failure_fix(&stderr);
            bail!(
                "starting a container of `{}` failed ({status}): {}{fix}",
                spec.image,
                stderr.trim()
            );
        }
        Err(SetupFailed {
            code: status.code(),
            stderr,
        }
        .into())
    }

    /// Waits for the first process to end (with `Setup::then`, that
    /// command's status), and with it the container.
    pub fn wait(&self) -> Result<ExitStatus> {
        let mut client = self.client.lock().unwrap_or_else(|e| e.into_inner());
        Ok(client.wait()?)
    }

    /// Leaves the container running past this value, and past Ctrl-C; the
    /// command that enters it.
    pub fn keep(&mut self) -> String {
        if let Some(guard) = self.guard.take() {
            guard.disarm();
        }
        let mut enter = self.engine.command();
        enter.args(["exec", "-it", &self.name, "bash"]);
        crate::util::command_line(&enter, &[])
    }

    /// `docker exec` of a command in the container.
    pub fn exec(&self, env: &[(String, String)], secrets: &[String], args: &[&str]) -> Command {
        exec_command(&self.engine, &self.name, env, secrets, args)
    }

    /// Output of a quick command in the container.
    pub fn read(&self, args: &[&str]) -> Result<String> {
        let out = self.exec(&[], &[], args).stdin(Stdio::null()).output()?;
        if !out.status.success() {
            bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `docker cp` of a host folder's contents into the container.
    pub fn copy_in(&self, run: &Runner, from: &Utf8Path, to: &str) -> Result<()> {
        run.run_captured(
            self.engine
                .cp(&format!("{from}/."), &format!("{}:{to}", self.name)),
        )
    }

    /// `docker cp` from the container to a host folder (files then belong to the caller).
    pub fn copy_out(&self, run: &Runner, from: &str, to: &Utf8Path) -> Result<()> {
        run.run_captured(
            self.engine
                .cp(&format!("{}:{from}", self.name), to.as_str()),
        )
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let client = self.client.get_mut().unwrap_or_else(|e| e.into_inner());
        if self.keep {
            // The container sleeps on; only the attached client ends.
            let _ = client.kill();
        }
        // Its first process reads its stdin to the end: closing it ends the container.
        drop(self.stdin.take());
        let ended = client.wait();
        // Once the attached client returned cleanly the engine has removed it;
        // else the guard removes it by force.
        if !self.keep && ended.is_ok_and(|s| s.success()) {
            if let Some(guard) = self.guard.take() {
                guard.disarm();
            }
        }
    }
}

/// An argument as a printed command line shows it: a long text by its size.
fn shorten(arg: &str) -> String {
    if arg.len() > 60 || arg.contains('\n') {
        format!("<{} bytes>", arg.len())
    } else {
        arg.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_info() {
        let info = ImageInfo::parse(
            "sha256:abc\narm64\nlabel org.xtask-wheels.inputs=123\nenv PATH=/usr/bin:/bin\nenv AUDITWHEEL_PLAT=manylinux2014_aarch64\n",
        );
        assert_eq!(info.id, "sha256:abc");
        assert_eq!(info.label(INPUTS_LABEL), Some("123"));
        assert_eq!(info.env("AUDITWHEEL_PLAT"), Some("manylinux2014_aarch64"));
        assert_eq!(info.env("PATH"), Some("/usr/bin:/bin"));
        info.check_arch("x", Arch::Aarch64).unwrap();
        let err = info
            .check_arch("img", Arch::X86_64)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "image `img` is built for arm64, but x86_64 needs a amd64 image: pick the image for x86_64");
    }

    #[test]
    fn container_run_line() {
        let mut spec = ContainerSpec {
            name: "xtask-1-x86_64".into(),
            run_id: "1",
            image: "manylinux:latest",
            arch: Arch::X86_64,
            volumes: vec!["c:/root/.cache/pip".into()],
            env: Vec::new(),
            extra: &["--ulimit=nproc=1024:1024".into()],
            keep: false,
        };
        let mut setup = Setup {
            script: "ls /opt/python || exit 42".into(),
            args: vec!["1".into()],
            then: None,
        };
        let docker = Engine {
            program: "docker".into(),
            endpoint: Vec::new(),
            api: None,
        };
        let line = |spec: &ContainerSpec, setup: &Setup| {
            crate::util::command_line(&spec.command(&docker, setup, &["TOKEN".into()]), &[])
        };
        assert_eq!(
            line(&spec, &setup),
            "docker run --interactive --rm --name xtask-1-x86_64 --label org.xtask-wheels=container --label org.xtask-wheels.run=1 \
             --platform linux/amd64 --entrypoint '' --workdir / --volume c:/root/.cache/pip --ulimit=nproc=1024:1024 manylinux:latest \
             sh -c 'ls /opt/python || exit 42\necho '\\''xtask: the container is ready'\\''\nexec cat >/dev/null' sh 1"
        );
        spec.keep = true;
        assert!(line(&spec, &setup).contains("\nexec sleep infinity' sh 1"));
        // A command run after the setup: its environment on the run line (a
        // secret by name only), the command quoted into the script.
        spec.keep = false;
        setup.then = Some(Then {
            args: vec!["sh".into(), "-c".into(), "echo \"$1\"".into(), "a b".into()],
            env: vec![
                ("MODE".into(), "x y".into()),
                ("TOKEN".into(), "s3cret".into()),
            ],
        });
        let cmd = spec.command(&docker, &setup, &["TOKEN".into()]);
        let text = crate::util::command_line(&cmd, &[]);
        assert!(
            text.contains(" --env 'MODE=x y' --env TOKEN --ulimit"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
        assert!(
            text.contains("\nexec 3<&0\nsh -c '\\''echo \"$1\"'\\'' '\\''a b'\\'' 3<&- &\nb=$!\n"),
            "{text}"
        );
    }

    #[test]
    fn exec_line_keeps_secrets_off_the_command_line() {
        let env = vec![
            ("MODE".to_string(), "a b".to_string()),
            ("TOKEN".to_string(), "s3cret".to_string()),
        ];
        let docker = Engine {
            program: "docker".into(),
            endpoint: Vec::new(),
            api: None,
        };
        let cmd = exec_command(
            &docker,
            "c1",
            &env,
            &["TOKEN".to_string()],
            &["bash", "x.sh"],
        );
        assert_eq!(
            crate::util::command_line(&cmd, &[]),
            "docker exec --env 'MODE=a b' --env TOKEN c1 bash x.sh"
        );
        let envs: Vec<_> = cmd.get_envs().collect();
        assert_eq!(
            envs,
            [(
                std::ffi::OsStr::new("TOKEN"),
                Some(std::ffi::OsStr::new("s3cret"))
            )]
        );
    }

    #[test]
    fn build_line() {
        let sh = Shell::new().unwrap();
        let engine = Engine {
            program: "docker".into(),
            endpoint: Vec::new(),
            api: None,
        };
        let spec = ImageBuild {
            tag: "manylinux_aarch64".into(),
            arch: Arch::Aarch64,
            context: "/repo/scripts/arm-image".into(),
            build_args: vec![("BASE".into(), "quay.io/pypa/manylinux2014_aarch64".into())],
            inputs: "00ff".into(),
        };
        let cmd = engine.build_command(&sh, &spec);
        assert_eq!(
            crate::util::command_line(&cmd, &[]),
            "docker build --platform linux/arm64 --label org.xtask-wheels=image --label org.xtask-wheels.inputs=00ff \
             --label org.xtask-wheels.arch=aarch64 --build-arg BASE=quay.io/pypa/manylinux2014_aarch64 \
             --tag manylinux_aarch64 /repo/scripts/arm-image"
        );
    }

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

    #[test]
    fn known_start_failures_name_their_fix() {
        let fix =
            start_failure_fix("Error: crun: error setting rlimit type 6: operation not permitted");
        assert!(
            fix.contains("default_ulimits = [\"nproc=1024:1024\", \"nofile=1024:1024\"]"),
            "{fix}"
        );
        assert!(
            fix.contains("--container-arg=--ulimit=nproc=1024:1024 --container-arg=--ulimit=nofile=1024:1024 "),
            "{fix}"
        );
        assert!(fix.contains("process limit (RLIMIT_NPROC"), "{fix}");
        let fix =
            start_failure_fix("Error: runc: error setting rlimit type 7: operation not permitted");
        assert!(
            fix.contains("open-file limit (RLIMIT_NOFILE, `nofile`)"),
            "{fix}"
        );
        let fix = start_failure_fix("error setting rlimit type 8: invalid argument");
        assert!(
            fix.contains("\"nproc=1024:1024\", \"nofile=1024:1024\", \"memlock=1024:1024\""),
            "{fix}"
        );
        assert!(
            start_failure_fix("open /dev/net/tun: permission denied").contains("--network=none")
        );
        assert_eq!(start_failure_fix("no such image"), "");
    }
}
