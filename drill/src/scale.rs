//! The `scale` subresource of Deployments, ReplicaSets and StatefulSets (autoscaling/v1 Scale).

use serde_json::{Value, json};

use crate::catalog::ResourceType;
use crate::crud::{self, Query};
use crate::patch::{self, PatchKind};
use crate::status::ApiError;
use crate::store::Store;
use crate::{controllers, meta, selector, validate};

/// The Scale view of a workload.
pub fn scale_of(obj: &Value) -> Value {
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta::name(obj),
            "namespace": meta::namespace(obj),
            "uid": meta::uid(obj),
            "resourceVersion": meta::resource_version(obj),
            "creationTimestamp": obj.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null),
        },
        "spec": { "replicas": meta::replicas(obj) },
        "status": {
            "replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector::to_query(obj.pointer("/spec/selector")),
        },
    })
}

pub fn get(
    store: &Store,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
) -> Result<Value, ApiError> {
    crud::get(store, rt, ns, name).map(|o| scale_of(&o))
}

/// Applies a new Scale (from PUT or PATCH) to the workload.
fn apply_scale(
    store: &mut Store,
    rt: &'static ResourceType,
    old: Value,
    scale: &Value,
    query: &Query,
) -> Result<Value, ApiError> {
    let name = meta::name(&old).to_string();
    let ns = meta::namespace(&old).to_string();
    if !scale.is_object() {
        return Err(ApiError::bad_request("a Scale must be a JSON object"));
    }
    let mut checked = scale.clone();
    meta::set(&mut checked, "apiVersion", json!("autoscaling/v1"));
    meta::set(&mut checked, "kind", json!("Scale"));
    validate::typed("Scale", &checked).map_err(|e| {
        ApiError::bad_request(format!(
            "Scale in version \"v1\" cannot be handled as a Scale: {e}"
        ))
    })?;
    let body_name = meta::name(scale);
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let rv = meta::resource_version(scale);
    if !rv.is_empty() && rv != meta::resource_version(&old) {
        return Err(ApiError::stale(rt, &name));
    }
    // As kube-apiserver's scale subresource: a uid in the Scale is a precondition.
    let uid = meta::uid(scale);
    if !uid.is_empty() && uid != meta::uid(&old) {
        return Err(ApiError::conflict(
            rt,
            &name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta::uid(&old)
            ),
        ));
    }
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if replicas < 0 {
        return Err(ApiError::new(
            422,
            "Invalid",
            format!(
                "Scale.autoscaling \"{name}\" is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
            ),
        ));
    }
    if crud::dry_run(query) {
        let mut preview = scale_of(&old);
        meta::set_path(&mut preview, &["spec", "replicas"], json!(replicas));
        return Ok(preview);
    }
    if meta::replicas(&old) == replicas {
        return Ok(scale_of(&old));
    }
    let mut obj = old;
    meta::set_path(&mut obj, &["spec", "replicas"], json!(replicas));
    let generation = obj
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    meta::set_meta(&mut obj, "generation", json!(generation + 1));
    store.update(rt, obj);
    controllers::reconcile(store, &ns);
    crud::get(store, rt, &ns, &name).map(|o| scale_of(&o))
}

pub fn replace(
    store: &mut Store,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    body: &[u8],
    query: &Query,
) -> Result<Value, ApiError> {
    let scale: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "Scale in version \"v1\" cannot be handled as a Scale: {e}"
        ))
    })?;
    let old = crud::get(store, rt, ns, name)?;
    apply_scale(store, rt, old, &scale, query)
}

pub fn patch(
    store: &mut Store,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    content_type: &str,
    body: &[u8],
    query: &Query,
) -> Result<Value, ApiError> {
    let kind = PatchKind::from_content_type(content_type)?;
    let old = crud::get(store, rt, ns, name)?;
    let scale = patch::apply(kind, &scale_of(&old), body)?;
    apply_scale(store, rt, old, &scale, query)
}
