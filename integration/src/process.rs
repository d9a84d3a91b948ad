//! A real `eddy` process for a test: output captured to files, killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub struct EddyProcess {
    child: Child,
    name: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl EddyProcess {
    /// Starts `eddy ARGS…` with extra environment variables.
    pub fn spawn<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(
        name: &str,
        args: &[S],
        envs: &[(&str, &str)],
    ) -> anyhow::Result<EddyProcess> {
        Self::spawn_with(name, args, envs, false)
    }

    /// Like [`EddyProcess::spawn`], with stdout a pipe the test reads (or leaves
    /// unread, like a stuck terminal) through [`EddyProcess::take_stdout`].
    pub fn spawn_piped<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(
        name: &str,
        args: &[S],
        envs: &[(&str, &str)],
    ) -> anyhow::Result<EddyProcess> {
        Self::spawn_with(name, args, envs, true)
    }

    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    fn spawn_with<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(
        name: &str,
        args: &[S],
        envs: &[(&str, &str)],
        pipe_stdout: bool,
    ) -> anyhow::Result<EddyProcess> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join(format!("{name}.log"));
        let out = std::fs::File::create(&log)?;
        let stdout = if pipe_stdout {
            Stdio::piped()
        } else {
            Stdio::from(out.try_clone()?)
        };
        let mut cmd = Command::new(crate::eddy_bin());
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(out);
        cmd.env("EDDY_LOG", "info");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("spawn eddy {args:?}"))?;
        Ok(EddyProcess {
            child,
            name: name.to_string(),
            log,
            _dir: dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, like a crashed machine; waits for the process to be gone.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM, the polite stop.
    pub fn terminate(&mut self) -> anyhow::Result<()> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
        Ok(())
    }

    /// Waits for the process to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if start.elapsed() > timeout {
                bail!(
                    "{} did not exit within {timeout:?}; output:\n{}",
                    self.name,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for EddyProcess {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- output of {} ----\n{}", self.name, self.output());
        }
    }
}
