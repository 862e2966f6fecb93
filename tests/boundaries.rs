//! The faces (src/cli, src/tui) hold an `Arc<dyn Fleet>` and import nothing of the
//! backends: everything they need is in `api` (plus the typed settings and the file
//! locations they are handed). This test reads their sources and fails on any import
//! of a backend room, so a detour around the contract cannot land unnoticed.

use std::path::{Path, PathBuf};

const FACES: &[&str] = &["src/cli", "src/tui"];
const BACKEND_ROOMS: &[&str] = &[
    "engine",
    "store",
    "drivers",
    "provision",
    "ssh",
    "docker",
    "server",
    "client",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `crate::engine`, `flotilla::engine`, `super::super::engine` ... in code (comments
/// are skipped).
fn backend_imports(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for room in BACKEND_ROOMS {
            for prefix in ["crate::", "flotilla::", "super::super::"] {
                let needle = format!("{prefix}{room}");
                if let Some(i) = code.find(&needle) {
                    let after = code[i + needle.len()..].chars().next();
                    if !after.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        found.push(format!("line {}: {}", n + 1, line.trim()));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn faces_import_only_the_contract() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for face in FACES {
        rust_files(&root.join(face), &mut files);
    }
    assert!(
        files.iter().any(|f| f.starts_with(root.join("src/cli"))),
        "no CLI sources found: the test would prove nothing"
    );
    let mut offenders = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read source");
        for hit in backend_imports(&text) {
            offenders.push(format!(
                "{}: {hit}",
                f.strip_prefix(root).unwrap_or(f).display()
            ));
        }
    }
    assert!(
        offenders.is_empty(),
        "faces must hold only an api::Fleet; these reach into a backend:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_check_catches_what_it_should() {
    assert_eq!(backend_imports("use crate::engine::Local;").len(), 1);
    assert_eq!(backend_imports("let x = crate::store::now_ms();").len(), 1);
    assert_eq!(backend_imports("use flotilla::ssh::Session;").len(), 1);
    assert!(backend_imports("use crate::api::Fleet; // not crate::engine").is_empty());
    assert!(backend_imports("use crate::engine_options;").is_empty());
    assert!(backend_imports("use crate::settings::Settings;").is_empty());
}
