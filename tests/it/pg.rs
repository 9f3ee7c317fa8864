//! A throwaway PostgreSQL server for the source tests: `initdb` and `pg_ctl` on a temporary
//! folder and a free port (as the postgres user when the tests run as root, since PostgreSQL
//! refuses to run as root), password authentication over TCP, stopped when dropped. No mock:
//! the binaries of the machine's PostgreSQL (`.ci/run` installs Debian's package).

use std::path::{Path, PathBuf};
use std::process::Command;

pub const PASSWORD: &str = "crm-test-secret";
pub const PASSWORD_ENV: &str = "CRM_TEST_PG_PASSWORD";

pub struct PgServer {
    pub port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
}

fn bindir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .filter(|d| d.join("initdb").exists())
        .expect("PostgreSQL's server binaries (initdb, pg_ctl): install Debian's postgresql package (.ci/run does)")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgServer {
    pub fn start() -> PgServer {
        let bin = bindir();
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown the server's folder to postgres");
        }
        let server = PgServer { port, dir, bin };
        server.as_server(&[
            "initdb",
            "-D",
            &server.data(),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--pwfile",
            pwfile.to_str().unwrap(),
            "--no-sync",
        ]);
        server.as_server(&[
            "pg_ctl",
            "-D",
            &server.data(),
            "-l",
            &server.dir.path().join("log").display().to_string(),
            "-o",
            &format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                server.dir.path().display()
            ),
            "-w",
            "start",
        ]);
        server
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn as_server(&self, args: &[&str]) {
        let program = self.bin.join(args[0]);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out = cmd
            .args(&args[1..])
            .output()
            .expect("run a PostgreSQL program");
        let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
        assert!(
            out.status.success(),
            "{:?} failed: {}\n{}\n{log}",
            args,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The URL crm is given: no password in it.
    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs SQL with psql over TCP (the password from the environment, as crm gets it).
    pub fn psql(&self, sql: &str, cwd: &Path) {
        let out = Command::new(self.bin.join("psql"))
            .current_dir(cwd)
            .env("PGPASSWORD", PASSWORD)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let program = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        let _ = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        };
    }
}

/// `crm args` in the sandbox with the server's password in the environment, as a user runs it.
pub fn crm_with_password(sb: &crate::common::Sandbox, args: &[&str]) -> std::process::Output {
    sb.cmd(args)
        .env(PASSWORD_ENV, PASSWORD)
        .output()
        .expect("run crm")
}

/// [`crm_with_password`] that must succeed; its standard output.
pub fn ok_with_password(sb: &crate::common::Sandbox, args: &[&str]) -> String {
    let out = crm_with_password(sb, args);
    assert!(
        out.status.success(),
        "{}",
        crate::common::describe(args, &out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
