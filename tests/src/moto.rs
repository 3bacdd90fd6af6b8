//! moto server on loopback: AWS's EC2, Auto Scaling, IAM, EKS, S3 and STS APIs with real
//! state, for the AWS scenarios. `scripts/test.sh` installs it in a virtualenv (`WARROOM_PY`,
//! default `/var/tmp/warroom-py`); `moto_server.py` runs it with the few calls warroom makes
//! that moto does not implement yet (snapshot lock, policy simulation, Pod Identity); its
//! boto3 sets up and reads back the state (`moto_aws.py`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Base credentials for moto; nothing is read from this machine's AWS configuration.
pub const AWS_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/nonexistent"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
    ("WARROOM_AWS_EXTERNAL_ID", "warroom-drill-external-id"),
];

/// The example plan as a drill whose AWS account is reached at `endpoint` (moto, or a
/// stand-in in front of it).
pub fn drill_plan_with_aws_at(endpoint: &str) -> String {
    crate::api::plan_with(&[
        ("drill = false", "drill = true"),
        (
            "role_arn = \"arn:aws:iam::123456789012:role/warroom-responder\"",
            &format!(
                "role_arn = \"arn:aws:iam::123456789012:role/warroom-responder\"\nendpoint_url = \"{endpoint}\""
            ),
        ),
    ])
}

pub struct Moto {
    /// `http://127.0.0.1:PORT`: the plan's `endpoint_url`.
    pub endpoint: String,
    child: Child,
}

/// The virtualenv moto and boto3 live in.
fn venv() -> PathBuf {
    PathBuf::from(std::env::var("WARROOM_PY").unwrap_or_else(|_| "/var/tmp/warroom-py".into()))
}

impl Moto {
    pub fn start() -> Moto {
        let port = crate::free_port();
        let server = venv().join("bin/python");
        let child = Command::new(&server)
            .arg(crate::repo_root().join("tests/src/moto_server.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} — moto server is installed by ./scripts/test.sh (python3 -m venv, pip install 'moto[server]')",
                    server.display()
                )
            });
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if crate::agent()
                .get(&format!("{endpoint}/moto-api/"))
                .call()
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "moto server did not start on {endpoint}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { endpoint, child }
    }

    /// Freeze the server (SIGSTOP): connections are taken and never answered, as a bucket
    /// endpoint that hangs. [`Moto::resume`] thaws it.
    pub fn pause(&self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGSTOP) };
    }

    pub fn resume(&self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGCONT) };
    }

    /// Run `moto_aws.py` with `args`; its JSON answer.
    pub fn aws(&self, args: &[&str]) -> Value {
        let out = Command::new(venv().join("bin/python"))
            .arg(crate::repo_root().join("tests/src/moto_aws.py"))
            .arg(&self.endpoint)
            .args(args)
            .output()
            .expect("the virtualenv's python runs");
        assert!(
            out.status.success(),
            "moto_aws.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("moto_aws.py prints JSON")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
