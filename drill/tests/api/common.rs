//! Starting a drill server and a kube client for it, and raw requests for what typed APIs hide.

use std::fmt::Debug;
use std::net::SocketAddr;

use kube::Client;
use kube::core::Status;
use serde_json::Value;
use warroom_drill::{DrillHandle, DrillServer, Scenario};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type TestResult = Result<(), Error>;

pub async fn start() -> Result<(DrillHandle, Client), Error> {
    start_with(Scenario::payments()).await
}

pub async fn start_with(scenario: Scenario) -> Result<(DrillHandle, Client), Error> {
    let addr: SocketAddr = "127.0.0.1:0".parse()?;
    let handle = DrillServer::start(scenario, addr).await?;
    Ok((handle.clone(), client_for(&handle)?))
}

pub fn client_for(handle: &DrillHandle) -> Result<Client, Error> {
    let mut config = kube::Config::new(handle.url().parse()?);
    // Retries would hide the 429s and 503s the tests are about.
    config.default_retry = false;
    Ok(Client::try_from(config)?)
}

/// The Status of a request that had to fail with an API error.
pub fn api_error<T: Debug>(result: Result<T, kube::Error>) -> Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected a Kubernetes API error, got {other:?}"),
    }
}

/// A raw request with a JSON answer.
pub async fn send(
    client: &Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> Result<Value, kube::Error> {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(body.as_bytes().to_vec())
        .map_err(kube::Error::HttpError)?;
    client.request::<Value>(request).await
}

/// A raw request with a text answer.
pub async fn send_text(
    client: &Client,
    method: &str,
    path: &str,
    body: &str,
) -> Result<String, kube::Error> {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.as_bytes().to_vec())
        .map_err(kube::Error::HttpError)?;
    client.request_text(request).await
}

pub fn names<K: kube::ResourceExt>(items: &[K]) -> Vec<String> {
    let mut names: Vec<String> = items.iter().map(|o| o.name_any()).collect();
    names.sort();
    names
}
