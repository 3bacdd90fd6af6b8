//! Splits Kubernetes REST paths into group, version, namespace, resource, name and subresource.

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/{group}`
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`
    Resources {
        group: String,
        version: String,
    },
    Resource(ResourcePath),
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// What follows the subresource, e.g. the kubelet path after `proxy`.
    pub rest: Vec<String>,
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Percent-decodes one path segment; malformed escapes stay as they are.
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse(path: &str) -> Route {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    let segments: Vec<String> = trimmed.split('/').map(decode).collect();
    if segments.iter().any(String::is_empty) {
        return Route::NotFound;
    }
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (group, version, rest) = match seg.as_slice() {
        ["api"] => return Route::CoreVersions,
        ["apis"] => return Route::Groups,
        ["apis", group] => return Route::Group((*group).to_string()),
        ["api", version] => {
            return Route::Resources {
                group: String::new(),
                version: (*version).to_string(),
            };
        }
        ["apis", group, version] => {
            return Route::Resources {
                group: (*group).to_string(),
                version: (*version).to_string(),
            };
        }
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Route::NotFound,
    };
    let owned = |s: &[&str]| s.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();
    let mut out = ResourcePath {
        group: group.to_string(),
        version: version.to_string(),
        ..ResourcePath::default()
    };
    let namespace_subresource = |s: &str| matches!(s, "status" | "finalize");
    match rest {
        // namespaces/{ns}/status is the Namespace itself, not a resource in it.
        ["namespaces", ns, sub, tail @ ..]
            if !(group.is_empty() && namespace_subresource(sub) && tail.is_empty()) =>
        {
            out.namespace = Some((*ns).to_string());
            out.resource = (*sub).to_string();
            out.name = tail.first().map(|s| (*s).to_string());
            out.subresource = tail.get(1).map(|s| (*s).to_string());
            out.rest = owned(tail.get(2..).unwrap_or_default());
        }
        [resource, tail @ ..] => {
            out.resource = (*resource).to_string();
            out.name = tail.first().map(|s| (*s).to_string());
            out.subresource = tail.get(1).map(|s| (*s).to_string());
            out.rest = owned(tail.get(2..).unwrap_or_default());
        }
        [] => return Route::NotFound,
    }
    Route::Resource(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(path: &str) -> ResourcePath {
        match parse(path) {
            Route::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn namespaced_and_cluster_paths() {
        let r = resource("/api/v1/namespaces/payments/pods/api-7f9c/log");
        assert_eq!(r.namespace.as_deref(), Some("payments"));
        assert_eq!(r.resource, "pods");
        assert_eq!(r.name.as_deref(), Some("api-7f9c"));
        assert_eq!(r.subresource.as_deref(), Some("log"));

        let r = resource("/api/v1/namespaces/payments");
        assert_eq!(
            (r.resource.as_str(), r.name.as_deref(), r.namespace),
            ("namespaces", Some("payments"), None)
        );

        let r = resource("/api/v1/namespaces/payments/status");
        assert_eq!(
            (r.resource.as_str(), r.subresource.as_deref()),
            ("namespaces", Some("status"))
        );

        let r = resource("/apis/apps/v1/namespaces/payments/deployments/api/scale");
        assert_eq!(
            (r.group.as_str(), r.subresource.as_deref()),
            ("apps", Some("scale"))
        );

        let r = resource(
            "/api/v1/nodes/ip-10-0-1-23.ec2.internal/proxy/checkpoint/payments/api-7f9c/api",
        );
        assert_eq!(r.rest, ["checkpoint", "payments", "api-7f9c", "api"]);

        let r = resource("/api/v1/pods");
        assert_eq!(
            (r.resource.as_str(), r.namespace, r.name),
            ("pods", None, None)
        );
    }

    #[test]
    fn discovery_and_junk() {
        assert_eq!(parse("/api"), Route::CoreVersions);
        assert_eq!(parse("/apis/apps"), Route::Group("apps".into()));
        assert_eq!(parse("/api//pods"), Route::NotFound);
        assert_eq!(parse("/healthz"), Route::NotFound);
        assert_eq!(
            resource("/api/v1/namespaces/a%2Fb/pods")
                .namespace
                .as_deref(),
            Some("a/b")
        );
        assert_eq!(resource("/api/v1/pods/%zz").name.as_deref(), Some("%zz"));
    }
}
