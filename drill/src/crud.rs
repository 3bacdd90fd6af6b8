//! get, list, create, replace, patch and delete on stored objects, with the apiserver's checks.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::catalog::{self, ResourceType};
use crate::patch::{self, PatchKind};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{self, ApiError};
use crate::store::Store;
use crate::{clock, controllers, lifecycle, meta, validate};

pub type Query = HashMap<String, String>;

/// Namespaces the apiserver refuses to delete.
const PROTECTED_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

pub fn dry_run(query: &Query) -> bool {
    query.get("dryRun").is_some_and(|v| v == "All")
}

/// A request body that must be one JSON object.
pub fn parse_object(body: &[u8], rt: &ResourceType) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            rt.kind, rt.version, rt.kind
        ))
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: expected a JSON object",
            rt.kind, rt.version, rt.kind
        )));
    }
    Ok(value)
}

/// Fills in apiVersion and kind when absent; rejects them when they name another type.
fn check_type(rt: &ResourceType, obj: &mut Value, name: &str) -> Result<(), ApiError> {
    let api_version = rt.api_version();
    match obj.get("apiVersion").and_then(Value::as_str) {
        None => meta::set(obj, "apiVersion", json!(api_version)),
        Some(v) if v == api_version => {}
        Some(v) => {
            return Err(ApiError::invalid(
                rt,
                name,
                "apiVersion",
                &format!("Invalid value: \"{v}\": must be {api_version}"),
            ));
        }
    }
    match obj.get("kind").and_then(Value::as_str) {
        None => meta::set(obj, "kind", json!(rt.kind)),
        Some(k) if k == rt.kind => {}
        Some(k) => {
            return Err(ApiError::invalid(
                rt,
                name,
                "kind",
                &format!("Invalid value: \"{k}\": must be {}", rt.kind),
            ));
        }
    }
    Ok(())
}

/// `?fieldValidation=Strict`: a field the kind does not have is refused, as the API server's
/// strict decoding does (kubectl asks for it when the OpenAPI says the server validates).
fn strict(rt: &ResourceType, obj: &Value, query: &Query) -> Result<(), ApiError> {
    if query.get("fieldValidation").map(String::as_str) != Some("Strict") {
        return Ok(());
    }
    match validate::unknown_fields(rt.kind, obj) {
        Ok(unknown) if !unknown.is_empty() => Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
            rt.kind,
            rt.version,
            rt.kind,
            unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        _ => Ok(()),
    }
}

fn typed(rt: &ResourceType, obj: &Value, code: u16) -> Result<(), ApiError> {
    validate::typed(rt.kind, obj).map_err(|e| {
        let message = format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            rt.kind, rt.version, rt.kind
        );
        if code == 422 {
            ApiError::invalid(rt, meta::name(obj), "body", &e)
        } else {
            ApiError::bad_request(message)
        }
    })
}

pub fn get(
    store: &Store,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
) -> Result<Value, ApiError> {
    store
        .get(rt, ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(rt, name))
}

pub fn list(
    store: &Store,
    rt: &'static ResourceType,
    ns: Option<&str>,
    query: &Query,
) -> Result<Value, ApiError> {
    let labels = LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str))?;
    let fields = FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str), rt)?;
    let items: Vec<Value> = store
        .list(rt, ns)
        .into_iter()
        .filter(|o| labels.matches(meta::labels(o)) && fields.matches(o))
        .cloned()
        .collect();
    Ok(json!({
        "apiVersion": rt.api_version(),
        "kind": rt.list_kind(),
        "metadata": { "resourceVersion": store.resource_version().to_string() },
        "items": items,
    }))
}

fn require_namespace(store: &Store, ns: &str) -> Result<(), ApiError> {
    if store.contains(catalog::namespaces(), "", ns) {
        Ok(())
    } else {
        Err(ApiError::not_found(catalog::namespaces(), ns))
    }
}

pub fn create(
    store: &mut Store,
    rt: &'static ResourceType,
    ns: &str,
    body: &[u8],
    query: &Query,
) -> Result<Value, ApiError> {
    let obj = parse_object(body, rt)?;
    strict(rt, &obj, query)?;
    create_object(store, rt, ns, obj, dry_run(query))
}

/// Creates `obj` in `ns` ("" when cluster-scoped) as POST does.
pub fn create_object(
    store: &mut Store,
    rt: &'static ResourceType,
    ns: &str,
    mut obj: Value,
    dry_run: bool,
) -> Result<Value, ApiError> {
    let mut name = meta::name(&obj).to_string();
    check_type(rt, &mut obj, &name)?;
    if name.is_empty() {
        let prefix = meta::str_at(&obj, "/metadata/generateName").to_string();
        if prefix.is_empty() {
            return Err(ApiError::invalid(
                rt,
                "",
                "metadata.name",
                "Required value: name or generateName is required",
            ));
        }
        name = format!("{prefix}{}", store.ids.suffix(5));
    }
    validate::name(&name).map_err(|e| ApiError::invalid(rt, &name, "metadata.name", &e))?;
    meta::set_meta(&mut obj, "name", json!(name));
    if rt.namespaced {
        let body_ns = meta::namespace(&obj);
        if !body_ns.is_empty() && body_ns != ns {
            return Err(ApiError::invalid(
                rt,
                &name,
                "metadata.namespace",
                "Invalid value: the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        require_namespace(store, ns)?;
        meta::set_meta(&mut obj, "namespace", json!(ns));
    } else if let Some(m) = meta::metadata_mut(&mut obj) {
        m.remove("namespace");
    }
    if store.contains(rt, ns, &name) {
        return Err(ApiError::already_exists(rt, &name));
    }
    typed(rt, &obj, 400)?;
    if let Some(m) = meta::metadata_mut(&mut obj) {
        for key in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
        ] {
            m.remove(key);
        }
        m.insert("uid".into(), json!(store.ids.uid()));
        m.insert("creationTimestamp".into(), json!(clock::now()));
        m.insert("generation".into(), json!(1));
    }
    prepare_new(store, rt, &mut obj, &name);
    if dry_run {
        return Ok(obj);
    }
    let stored = store.insert(rt, obj);
    controllers::reconcile(store, ns);
    Ok(stored)
}

/// Defaults the apiserver and its controllers give new objects of some types.
fn prepare_new(store: &mut Store, rt: &'static ResourceType, obj: &mut Value, name: &str) {
    match rt.kind {
        "Namespace" => {
            meta::set_path(
                obj,
                &["metadata", "labels", "kubernetes.io/metadata.name"],
                json!(name),
            );
            meta::set_path(obj, &["spec", "finalizers"], json!(["kubernetes"]));
            meta::set(obj, "status", json!({ "phase": "Active" }));
        }
        "Pod" => lifecycle::start(store, obj),
        _ => {}
    }
}

/// The object as stored after an update to `old` that produced `new`: identity kept, status
/// taken from the side the (sub)resource owns, generation bumped when the spec changed.
fn merge_update(
    rt: &'static ResourceType,
    old: &Value,
    mut new: Value,
    subresource: Option<&str>,
) -> Value {
    let status_owned = rt.has_subresource("status");
    if subresource == Some("status") {
        let mut out = old.clone();
        meta::set(
            &mut out,
            "status",
            new.get("status").cloned().unwrap_or(json!({})),
        );
        return out;
    }
    if status_owned {
        match old.get("status") {
            Some(s) => meta::set(&mut new, "status", s.clone()),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    for key in ["uid", "creationTimestamp", "deletionTimestamp"] {
        match old.pointer(&format!("/metadata/{key}")) {
            Some(v) => meta::set_meta(&mut new, key, v.clone()),
            None => {
                if let Some(m) = meta::metadata_mut(&mut new) {
                    m.remove(key);
                }
            }
        }
    }
    let old_generation = old
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let generation = if old.get("spec") == new.get("spec") {
        old_generation
    } else {
        old_generation + 1
    };
    meta::set_meta(&mut new, "generation", json!(generation));
    new
}

fn check_identity(rt: &ResourceType, obj: &Value, ns: &str, name: &str) -> Result<(), ApiError> {
    let body_name = meta::name(obj);
    if body_name != name {
        return Err(ApiError::invalid(
            rt,
            name,
            "metadata.name",
            &format!(
                "Invalid value: \"{body_name}\": the name of the object does not match the name on the URL ({name})"
            ),
        ));
    }
    let body_ns = meta::namespace(obj);
    if rt.namespaced && !body_ns.is_empty() && body_ns != ns {
        return Err(ApiError::invalid(
            rt,
            name,
            "metadata.namespace",
            &format!(
                "Invalid value: \"{body_ns}\": the namespace of the object does not match the namespace on the URL ({ns})"
            ),
        ));
    }
    Ok(())
}

/// An update or patch may name the object's uid (clients do, to be sure they change the
/// object they read, not a new one of the same name): a different uid is refused, as
/// kube-apiserver's metadata validation does (422, "field is immutable").
fn check_uid(rt: &ResourceType, old: &Value, new: &Value, name: &str) -> Result<(), ApiError> {
    let given = meta::uid(new);
    if !given.is_empty() && given != meta::uid(old) {
        return Err(ApiError::invalid(
            rt,
            name,
            "metadata.uid",
            &format!("Invalid value: \"{given}\": field is immutable"),
        ));
    }
    Ok(())
}

/// Stores an updated object and lets the controllers react.
fn commit(
    store: &mut Store,
    rt: &'static ResourceType,
    ns: &str,
    obj: Value,
    dry_run: bool,
) -> Value {
    if dry_run {
        return obj;
    }
    let stored = store.update(rt, obj);
    controllers::reconcile(store, ns);
    stored
}

/// PUT on an object or its status subresource.
pub fn replace(
    store: &mut Store,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    subresource: Option<&str>,
    body: &[u8],
    query: &Query,
) -> Result<Value, ApiError> {
    let mut obj = parse_object(body, rt)?;
    strict(rt, &obj, query)?;
    check_type(rt, &mut obj, name)?;
    check_identity(rt, &obj, ns, name)?;
    let old = get(store, rt, ns, name)?;
    let rv = meta::resource_version(&obj);
    if !rv.is_empty() && rv != meta::resource_version(&old) {
        return Err(ApiError::stale(rt, name));
    }
    check_uid(rt, &old, &obj, name)?;
    typed(rt, &obj, 400)?;
    meta::set_meta(&mut obj, "name", json!(name));
    if rt.namespaced {
        meta::set_meta(&mut obj, "namespace", json!(ns));
    }
    let new = merge_update(rt, &old, obj, subresource);
    Ok(commit(store, rt, ns, new, dry_run(query)))
}

/// PATCH on an object or its status subresource. Server-side apply creates missing objects,
/// which the `bool` reports (201 rather than 200).
#[allow(clippy::too_many_arguments)]
pub fn patch(
    store: &mut Store,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    subresource: Option<&str>,
    content_type: &str,
    body: &[u8],
    query: &Query,
) -> Result<(Value, bool), ApiError> {
    let kind = PatchKind::from_content_type(content_type)?;
    if kind == PatchKind::Apply && query.get("fieldManager").is_none_or(String::is_empty) {
        return Err(ApiError::bad_request(
            "PATCH /apply requires the fieldManager query parameter (fieldManager is required for apply patch)",
        ));
    }
    let Some(old) = store.get(rt, ns, name).cloned() else {
        if kind == PatchKind::Apply && subresource.is_none() {
            let mut obj = patch::parse_body(kind, body)?;
            if !obj.is_object() {
                return Err(ApiError::bad_request("an apply patch must be an object"));
            }
            if meta::name(&obj).is_empty() {
                meta::set_meta(&mut obj, "name", json!(name));
            }
            check_identity(rt, &obj, ns, name)?;
            return create_object(store, rt, ns, obj, dry_run(query)).map(|o| (o, true));
        }
        return Err(ApiError::not_found(rt, name));
    };
    let mut new = patch::apply(kind, &old, body)?;
    if !new.is_object() {
        return Err(ApiError::invalid(
            rt,
            name,
            "body",
            "the patched object is not a JSON object",
        ));
    }
    let rv = meta::resource_version(&new);
    if !rv.is_empty() && rv != meta::resource_version(&old) {
        return Err(ApiError::stale(rt, name));
    }
    check_identity(rt, &new, ns, name)?;
    check_uid(rt, &old, &new, name)?;
    meta::set(&mut new, "apiVersion", json!(rt.api_version()));
    meta::set(&mut new, "kind", json!(rt.kind));
    typed(rt, &new, 422)?;
    strict(rt, &new, query)?;
    let new = merge_update(rt, &old, new, subresource);
    Ok((commit(store, rt, ns, new, dry_run(query)), false))
}

/// DeleteOptions from the body (JSON) merged with the query parameters kube may send instead.
fn delete_options(body: &[u8], query: &Query) -> Result<Value, ApiError> {
    let mut options = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
    };
    if !options.is_object() {
        return Err(ApiError::bad_request("DeleteOptions must be a JSON object"));
    }
    if let Some(policy) = query.get("propagationPolicy") {
        meta::set(&mut options, "propagationPolicy", json!(policy));
    }
    if let Some(grace) = query.get("gracePeriodSeconds") {
        let grace: i64 = grace
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid gracePeriodSeconds {grace:?}")))?;
        meta::set(&mut options, "gracePeriodSeconds", json!(grace));
    }
    Ok(options)
}

/// 409 when DeleteOptions preconditions do not hold for `obj`.
pub fn check_preconditions(
    rt: &ResourceType,
    obj: &Value,
    options: &Value,
) -> Result<(), ApiError> {
    let name = meta::name(obj);
    if let Some(uid) = options
        .pointer("/preconditions/uid")
        .and_then(Value::as_str)
        && uid != meta::uid(obj)
    {
        return Err(ApiError::conflict(
            rt,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta::uid(obj)
            ),
        ));
    }
    if let Some(rv) = options
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
        && rv != meta::resource_version(obj)
    {
        return Err(ApiError::conflict(
            rt,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                meta::resource_version(obj)
            ),
        ));
    }
    Ok(())
}

fn options_dry_run(options: &Value) -> bool {
    options
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|d| d.iter().any(|x| x.as_str() == Some("All")))
}

/// Removes an object with everything that follows from it: dependents, a namespace's contents,
/// pods on a node, and the controllers' replacements.
pub fn remove_object(
    store: &mut Store,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    orphan: bool,
) -> Option<Value> {
    let obj = store.remove(rt, ns, name)?;
    match rt.kind {
        "Pod" => {
            let owner = meta::controller_uid(&obj).to_string();
            let node = meta::str_at(&obj, "/spec/nodeName").to_string();
            if !owner.is_empty() && !node.is_empty() {
                store.node_hints.entry(owner).or_default().push(node);
            }
        }
        "Namespace" => {
            for (group, plural, child) in store.in_namespace(name) {
                if let Some(child_rt) = catalog::resource(group, plural) {
                    store.remove(child_rt, name, &child);
                }
            }
        }
        "Node" => {
            // The pod garbage collector deletes pods bound to nodes that no longer exist.
            let bound: Vec<(String, String)> = store
                .list(catalog::pods(), None)
                .into_iter()
                .filter(|p| meta::str_at(p, "/spec/nodeName") == name)
                .map(|p| (meta::namespace(p).to_string(), meta::name(p).to_string()))
                .collect();
            for (pod_ns, pod) in bound {
                store.remove(catalog::pods(), &pod_ns, &pod);
            }
        }
        _ => {}
    }
    controllers::collect_garbage(store, meta::uid(&obj), orphan);
    controllers::reconcile(store, ns);
    Some(obj)
}

/// What DELETE answers: pods and namespaces come back as objects, the rest as a Status.
fn deleted_answer(rt: &ResourceType, mut obj: Value, options: &Value) -> Value {
    match rt.kind {
        "Pod" => {
            let grace = options
                .get("gracePeriodSeconds")
                .and_then(Value::as_i64)
                .or_else(|| {
                    obj.pointer("/spec/terminationGracePeriodSeconds")
                        .and_then(Value::as_i64)
                })
                .unwrap_or(30);
            meta::set_meta(
                &mut obj,
                "deletionTimestamp",
                json!(clock::format_secs(clock::now_secs() + grace)),
            );
            meta::set_meta(&mut obj, "deletionGracePeriodSeconds", json!(grace));
            obj
        }
        "Namespace" => {
            meta::set_meta(&mut obj, "deletionTimestamp", json!(clock::now()));
            meta::set_path(&mut obj, &["status", "phase"], json!("Terminating"));
            obj
        }
        _ => {
            let mut details =
                json!({ "name": meta::name(&obj), "kind": rt.plural, "uid": meta::uid(&obj) });
            if !rt.group.is_empty() {
                details["group"] = json!(rt.group);
            }
            status::success(200, details)
        }
    }
}

pub fn delete(
    store: &mut Store,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    body: &[u8],
    query: &Query,
) -> Result<Value, ApiError> {
    let options = delete_options(body, query)?;
    let obj = get(store, rt, ns, name)?;
    check_preconditions(rt, &obj, &options)?;
    if rt.kind == "Namespace" && PROTECTED_NAMESPACES.contains(&name) {
        return Err(ApiError::new(
            403,
            "Forbidden",
            format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted"),
        ));
    }
    let orphan = options.get("propagationPolicy").and_then(Value::as_str) == Some("Orphan");
    if !(dry_run(query) || options_dry_run(&options)) {
        remove_object(store, rt, ns, name, orphan);
    }
    Ok(deleted_answer(rt, obj, &options))
}

pub fn delete_collection(
    store: &mut Store,
    rt: &'static ResourceType,
    ns: Option<&str>,
    body: &[u8],
    query: &Query,
) -> Result<Value, ApiError> {
    let options = delete_options(body, query)?;
    let matched = list(store, rt, ns, query)?;
    let orphan = options.get("propagationPolicy").and_then(Value::as_str) == Some("Orphan");
    let dry = dry_run(query) || options_dry_run(&options);
    let mut items = Vec::new();
    for obj in matched
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (obj_ns, obj_name) = (meta::namespace(obj), meta::name(obj));
        if rt.kind == "Namespace" && PROTECTED_NAMESPACES.contains(&obj_name) {
            continue;
        }
        if !dry {
            remove_object(store, rt, obj_ns, obj_name, orphan);
        }
        items.push(obj.clone());
    }
    Ok(json!({
        "apiVersion": rt.api_version(),
        "kind": rt.list_kind(),
        "metadata": { "resourceVersion": store.resource_version().to_string() },
        "items": items,
    }))
}
