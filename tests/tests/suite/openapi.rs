//! The API description stays in step with the routes: every documented operation is served,
//! and every handler the source documents is in the description.

use fieldloop_e2e::{Engine, TestServer};

#[tokio::test]
async fn openapi_matches_routes() -> anyhow::Result<()> {
    let server = TestServer::start(Engine::Sqlite)
        .await?
        .expect("sqlite always starts");
    let doc: serde_json::Value = fieldloop_e2e::http()
        .get(format!("{}/api/openapi.json", server.base()))
        .send()
        .await?
        .json()
        .await?;
    let paths = doc["paths"].as_object().expect("paths");
    let http = fieldloop_e2e::http();
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{id}", "01a21bf7-826d-762a-ba62-67d0085eeabf")
            .replace("{sha256}", &"0".repeat(64));
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_none() {
                continue;
            }
            operations += 1;
            let m: reqwest::Method = method.to_uppercase().parse()?;
            let resp = http
                .request(m, format!("{}{concrete}", server.base()))
                .send()
                .await?;
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            assert_ne!(
                body["error"]["code"], "no_route",
                "{method} {path} is documented but not routed"
            );
        }
    }
    // Every documented handler in the source made it into the description.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/src/http");
    let mut in_source = 0;
    for entry in std::fs::read_dir(dir)? {
        let text = std::fs::read_to_string(entry?.path())?;
        in_source += text.matches("#[utoipa::path(").count();
    }
    assert_eq!(
        operations, in_source,
        "handlers documented in the source vs operations in /api/openapi.json"
    );
    // An unknown route answers with the one error shape.
    let resp = http
        .get(format!("{}/api/nothing-here", server.base()))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 404);
    let body: serde_json::Value = resp.json().await?;
    assert_eq!(body["error"]["code"], "no_route");
    server.finish().await;
    Ok(())
}

/// The API description lists every error code the server can send, so a client can switch on
/// them; each code reads back as itself.
#[test]
fn error_codes_are_documented() {
    use fieldloop_client_core::wire::ErrorCode;
    let doc = serde_json::to_value(fieldloop_server::openapi()).expect("openapi as JSON");
    let listed: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode is an enum in the description")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for code in ErrorCode::ALL {
        assert!(
            listed.contains(&code.as_str()),
            "{code} is not in the API description"
        );
        assert_eq!(ErrorCode::parse(code.as_str()), *code);
        assert_eq!(
            serde_json::to_value(code).expect("a code serialises"),
            code.as_str()
        );
        let status = fieldloop_server::http::error::status_of(*code).as_u16();
        assert!((400..600).contains(&status), "{code} answers {status}");
    }
    assert_eq!(
        serde_json::from_str::<ErrorCode>("\"a_code_from_the_future\"").expect("read"),
        ErrorCode::Unknown
    );
    assert_eq!(
        doc["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["$ref"],
        "#/components/schemas/ErrorCode"
    );
}

/// The framework's own refusals come in the one JSON shape too: a body that is not JSON, one
/// without a field, a query that does not parse, a method the route does not have.
#[tokio::test]
async fn framework_rejections_are_json() -> anyhow::Result<()> {
    let server = TestServer::start(Engine::Sqlite)
        .await?
        .expect("sqlite always starts");
    server
        .user(
            "sales",
            fieldloop_client_core::model::Role::Salesperson,
            Some("wuhan"),
        )
        .await?;
    let token = fieldloop_e2e::login_token(&server.base(), "sales").await?;
    let http = fieldloop_e2e::http();
    let base = server.base();
    let cases = [
        (
            http.post(format!("{base}/api/complaints"))
                .bearer_auth(&token)
                .header("content-type", "text/plain")
                .body("hello"),
            400,
            "malformed_body",
        ),
        (
            http.post(format!("{base}/api/complaints"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"customer_name": "x"})),
            400,
            "invalid_input",
        ),
        (
            http.post(format!("{base}/api/complaints"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body("{not json"),
            400,
            "invalid_input",
        ),
        (
            http.get(format!("{base}/api/feed?after=abc"))
                .bearer_auth(&token),
            400,
            "invalid_input",
        ),
        (
            http.get(format!("{base}/api/complaints/not-a-uuid"))
                .bearer_auth(&token),
            400,
            "invalid_input",
        ),
        (
            http.delete(format!("{base}/api/me")).bearer_auth(&token),
            404,
            "no_route",
        ),
        // A body in an encoding the server does not undo, and a method /healthz lacks.
        (
            http.post(format!("{base}/api/sync"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .header("content-encoding", "br")
                .body("{}"),
            400,
            "malformed_body",
        ),
        (http.post(format!("{base}/healthz")), 404, "no_route"),
    ];
    for (request, status, code) in cases {
        let resp = request.send().await?;
        let got = resp.status().as_u16();
        let kind = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{kind} {body}"
        );
        assert!(kind.starts_with("application/json"), "{kind}");
        assert!(
            !body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
        );
    }
    server.finish().await;
    Ok(())
}

/// Every parameter the API description declares "in path" appears in its path as `{name}`;
/// query parameters are declared as query parameters.
#[test]
fn path_parameters_are_in_their_paths() {
    let doc = serde_json::to_value(fieldloop_server::openapi()).expect("openapi as JSON");
    let mut wrong = Vec::new();
    let mut queries = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            for param in op["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().unwrap_or_default();
                match param["in"].as_str() {
                    Some("path") if !path.contains(&format!("{{{name}}}")) => {
                        wrong.push(format!("{method} {path}: {name}"));
                    }
                    Some("query") => queries += 1,
                    _ => {}
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "path parameters not in their path: {wrong:#?}"
    );
    assert!(queries >= 13, "only {queries} query parameters declared");
}
