//! Start-up errors are clear and end the process with a non-zero exit code.

use std::time::Duration;

use eddy_integration::{EddyProcess, free_port, server_args};

const EXIT_WAIT: Duration = Duration::from_secs(60);

/// Runs `eddy ARGS…` to its end and returns (exit code, output).
fn run<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S]) -> anyhow::Result<(i32, String)> {
    let mut p = EddyProcess::spawn("eddy", args, &[])?;
    let status = p.wait_exit(EXIT_WAIT)?;
    Ok((status.code().unwrap_or(-1), p.output()))
}

/// Runs `eddy master --http <free port> --data-dir <temp dir> EXTRA…` to its end.
fn run_master(extra: &[&str]) -> anyhow::Result<(i32, String)> {
    let dir = tempfile::tempdir()?;
    let http = format!("127.0.0.1:{}", free_port());
    run(&server_args("master", &http, dir.path(), extra))
}

#[test]
fn bad_flags_exit_2_with_usage() -> anyhow::Result<()> {
    let (code, out) = run(&["standalone", "--slots", "zero"])?;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--slots") && out.contains("zero"), "{out}");

    let (code, out) = run(&["standalone", "--no-such-flag"])?;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--no-such-flag"), "{out}");

    let (code, out) = run(&["worker"])?;
    assert_eq!(code, 2, "--master is required: {out}");
    assert!(out.contains("--master"), "{out}");

    let (code, out) = run(&["standalone", "--heartbeat-interval", "soon"])?;
    assert_eq!(code, 2, "{out}");
    Ok(())
}

#[test]
fn an_unreachable_database_is_reported() -> anyhow::Result<()> {
    let db = format!("postgres://eddy:topsecret@127.0.0.1:{}/eddy", free_port());
    let (code, out) = run_master(&["--db", &db])?;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("cannot connect to the database"), "{out}");
    assert!(
        !out.contains("topsecret"),
        "the password must not be printed: {out}"
    );
    Ok(())
}

#[test]
fn an_unsupported_database_url_is_reported() -> anyhow::Result<()> {
    let (code, out) = run_master(&["--db", "mysql://x/y"])?;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("unsupported database URL"), "{out}");
    Ok(())
}

#[test]
fn a_port_in_use_is_reported() -> anyhow::Result<()> {
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = taken.local_addr()?.to_string();
    let dir = tempfile::tempdir()?;
    let (code, out) = run(&[
        "master",
        "--http",
        &addr,
        "--data-dir",
        &dir.path().display().to_string(),
    ])?;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(&format!("cannot listen on {addr}")), "{out}");

    let (code, out) = run(&["worker", "--master", "http://127.0.0.1:1", "--rpc", &addr])?;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(&format!("cannot listen on {addr}")), "{out}");
    Ok(())
}

#[test]
fn heartbeat_interval_must_be_below_the_timeout() -> anyhow::Result<()> {
    let (code, out) = run_master(&["--heartbeat-interval", "5s", "--heartbeat-timeout", "1s"])?;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("--heartbeat-interval"), "{out}");
    Ok(())
}

#[test]
fn a_bad_config_file_is_reported() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("eddy.toml");
    std::fs::write(&path, "colour = \"blue\"\n")?;
    let (code, out) = run(&["standalone", "--config", &path.display().to_string()])?;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("unknown key \"colour\""), "{out}");
    let (code, out) = run(&[
        "standalone",
        "--config",
        &dir.path().join("missing.toml").display().to_string(),
    ])?;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("cannot read config file"), "{out}");
    Ok(())
}

#[test]
fn a_second_master_on_the_same_data_dir_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().display().to_string();
    let first_http = format!("127.0.0.1:{}", free_port());
    let mut first = EddyProcess::spawn(
        "first",
        &["master", "--http", &first_http, "--data-dir", &data],
        &[],
    )?;
    let deadline = std::time::Instant::now() + EXIT_WAIT;
    while !dir.path().join("raft").join("LOCK").exists() {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "first master never opened its Raft store"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let http = format!("127.0.0.1:{}", free_port());
    let (code, out) = run(&["master", "--http", &http, "--data-dir", &data])?;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("cannot open the Raft store"), "{out}");
    assert!(first.is_running(), "the first master is unaffected");
    Ok(())
}
