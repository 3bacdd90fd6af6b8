//! What the kubelet answers through the apiserver: container logs and container checkpoints.

use http::StatusCode;
use serde_json::{Value, json};

use crate::crud::Query;
use crate::status::ApiError;
use crate::store::Store;
use crate::{catalog, clock, meta};

/// Annotation prefix a scenario puts container logs under: `drill.warroom.io/logs.<container>`.
pub const LOGS: &str = "drill.warroom.io/logs";
/// Logs of the previous (crashed) instance: `drill.warroom.io/previous-logs.<container>`.
pub const PREVIOUS_LOGS: &str = "drill.warroom.io/previous-logs";
/// Node annotation choosing how checkpoint requests go: absent/`ok`, `disabled` or `no-criu`.
pub const CHECKPOINT: &str = "drill.warroom.io/checkpoint";

fn container_names(pod: &Value) -> Vec<String> {
    ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .filter_map(|k| pod.pointer(&format!("/spec/{k}")).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

fn main_containers(pod: &Value) -> Vec<String> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

fn container_status<'a>(pod: &'a Value, container: &str) -> Option<&'a Value> {
    [
        "containerStatuses",
        "initContainerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .filter_map(|k| {
        pod.pointer(&format!("/status/{k}"))
            .and_then(Value::as_array)
    })
    .flatten()
    .find(|s| s.get("name").and_then(Value::as_str) == Some(container))
}

fn number(query: &Query, key: &str) -> Result<Option<i64>, ApiError> {
    match query.get(key) {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some(n)),
            _ => Err(ApiError::bad_request(format!(
                "{key}: Invalid value: {v:?}: must be a non-negative integer"
            ))),
        },
    }
}

fn flag(query: &Query, key: &str) -> bool {
    query.get(key).is_some_and(|v| v == "true" || v == "1")
}

/// `GET .../pods/{name}/log`.
pub fn logs(store: &Store, ns: &str, name: &str, query: &Query) -> Result<String, ApiError> {
    let pods = catalog::pods();
    let pod = store
        .get(pods, ns, name)
        .ok_or_else(|| ApiError::not_found(pods, name))?;
    let tail = number(query, "tailLines")?;
    let limit = number(query, "limitBytes")?;
    if limit == Some(0) {
        return Err(ApiError::new(
            422,
            "Invalid",
            "PodLogOptions \"\" is invalid: limitBytes: Invalid value: 0: must be greater than 0",
        ));
    }
    let main = main_containers(pod);
    let container = match query.get("container").filter(|c| !c.is_empty()) {
        Some(c) => c.clone(),
        None if main.len() == 1 => main[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                main.join(" ")
            )));
        }
    };
    if !container_names(pod).contains(&container) {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    let first = main.first() == Some(&container);
    let text = if flag(query, "previous") {
        meta::annotation(pod, &format!("{PREVIOUS_LOGS}.{container}"))
            .or_else(|| {
                first
                    .then(|| meta::annotation(pod, PREVIOUS_LOGS))
                    .flatten()
            })
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "previous terminated container \"{container}\" in pod \"{name}\" not found"
                ))
            })?
    } else {
        if let Some(reason) = container_status(pod, &container)
            .and_then(|s| s.pointer("/state/waiting/reason"))
            .and_then(Value::as_str)
        {
            return Err(ApiError::bad_request(format!(
                "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
            )));
        }
        meta::annotation(pod, &format!("{LOGS}.{container}"))
            .or_else(|| first.then(|| meta::annotation(pod, LOGS)).flatten())
            .unwrap_or("")
    };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if flag(query, "timestamps") {
        let started = container_status(pod, &container)
            .and_then(|s| s.pointer("/state/running/startedAt"))
            .and_then(Value::as_str)
            .or_else(|| {
                pod.pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
            })
            .and_then(clock::parse)
            .unwrap_or(0);
        for (i, line) in lines.iter_mut().enumerate() {
            let at = started + i64::try_from(i).unwrap_or(0);
            *line = format!("{} {line}", clock::format_nanos(at));
        }
    }
    if let Some(tail) = tail {
        let keep = usize::try_from(tail).unwrap_or(usize::MAX);
        let skip = lines.len().saturating_sub(keep);
        lines.drain(..skip);
    }
    let mut out: String = lines.iter().map(|l| format!("{l}\n")).collect();
    if let Some(limit) = limit {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if out.len() > limit {
            out = String::from_utf8_lossy(&out.as_bytes()[..limit]).into_owned();
        }
    }
    Ok(out)
}

/// What a checkpoint request gets: a status code and either JSON or plain text, since the
/// kubelet answers its errors in plain text.
#[derive(Debug, Clone, PartialEq)]
pub enum KubeletAnswer {
    Json(StatusCode, Value),
    Text(StatusCode, String),
}

/// `POST /api/v1/nodes/{node}/proxy/checkpoint/{ns}/{pod}/{container}`.
pub fn checkpoint(store: &Store, node: &str, rest: &[String]) -> Result<KubeletAnswer, ApiError> {
    let nodes = catalog::nodes();
    let node_obj = store
        .get(nodes, "", node)
        .ok_or_else(|| ApiError::not_found(nodes, node))?;
    let not_found =
        || KubeletAnswer::Text(StatusCode::NOT_FOUND, "404 page not found\n".to_string());
    let [first, ns, pod_name, container] = rest else {
        return Ok(not_found());
    };
    if first != "checkpoint" {
        return Ok(not_found());
    }
    let mode = meta::annotation(node_obj, CHECKPOINT).unwrap_or("ok");
    if mode == "disabled" {
        return Ok(not_found());
    }
    let pod = store
        .get(catalog::pods(), ns, pod_name)
        .filter(|p| meta::str_at(p, "/spec/nodeName") == node);
    let Some(pod) = pod else {
        return Ok(KubeletAnswer::Text(
            StatusCode::NOT_FOUND,
            format!("pod {ns}/{pod_name} not found on node {node}"),
        ));
    };
    if !container_names(pod).contains(container) {
        return Ok(KubeletAnswer::Text(
            StatusCode::NOT_FOUND,
            format!("container {container} not found in pod {ns}/{pod_name}"),
        ));
    }
    if mode == "no-criu" {
        return Ok(KubeletAnswer::Text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "checkpointing of {ns}/{pod_name}/{container} failed (rpc error: code = Unknown desc = checkpoint/restore support not available in runtime: CRIU binary not found)"
            ),
        ));
    }
    let path = format!(
        "/var/lib/kubelet/checkpoints/checkpoint-{pod_name}_{ns}-{container}-{}.tar",
        clock::now()
    );
    Ok(KubeletAnswer::Json(
        StatusCode::OK,
        json!({ "items": [path] }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_pod() -> Store {
        let mut store = Store::new();
        store.insert(
            catalog::pods(),
            json!({
                "metadata": {"name": "p", "namespace": "n", "annotations": {
                    "drill.warroom.io/logs.app": "one\ntwo\nthree\n",
                    "drill.warroom.io/previous-logs.app": "boom\n"}},
                "spec": {"containers": [{"name": "app"}, {"name": "side"}]},
            }),
        );
        store
    }

    fn query(pairs: &[(&str, &str)]) -> Query {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn logs_honour_tail_limit_and_previous() {
        let store = store_with_pod();
        let q = query(&[("container", "app"), ("tailLines", "2")]);
        assert_eq!(logs(&store, "n", "p", &q).as_deref(), Ok("two\nthree\n"));
        let q = query(&[("container", "app"), ("limitBytes", "5")]);
        assert_eq!(logs(&store, "n", "p", &q).as_deref(), Ok("one\nt"));
        let q = query(&[("container", "app"), ("previous", "true")]);
        assert_eq!(logs(&store, "n", "p", &q).as_deref(), Ok("boom\n"));
        let q = query(&[("container", "side"), ("previous", "true")]);
        assert_eq!(logs(&store, "n", "p", &q).map_err(|e| e.code), Err(400));
        let q = query(&[("container", "nope")]);
        assert_eq!(
            logs(&store, "n", "p", &q).map_err(|e| e.message),
            Err("container nope is not valid for pod p".to_string())
        );
        assert_eq!(
            logs(&store, "n", "p", &query(&[])).map_err(|e| e.code),
            Err(400)
        );
        let q = query(&[("container", "app"), ("tailLines", "-1")]);
        assert_eq!(logs(&store, "n", "p", &q).map_err(|e| e.code), Err(400));
    }
}
