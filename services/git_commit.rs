// Included by the build scripts of `mpcluster-manager` and `mpctl`
// (`include!`), so that `--version` names the commit a binary was built
// from.

/// Sets `MPCLUSTER_GIT_COMMIT` for the crate being built: the builder's own
/// value when that variable is set (a packager building from a tarball who
/// knows the commit), else the short hash of `HEAD` as `git` reports it,
/// else `unknown` (no git, or not a checkout: a source tarball). Local
/// changes are not marked: they change far more often than a rebuild of
/// the build script is wanted. Asks cargo to run the script again when
/// `HEAD` moves.
fn emit_git_commit() {
    println!("cargo:rerun-if-env-changed=MPCLUSTER_GIT_COMMIT");
    let dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(&dir)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !text.is_empty()).then_some(text)
    };
    let commit = match std::env::var("MPCLUSTER_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into()),
    };
    println!("cargo:rustc-env=MPCLUSTER_GIT_COMMIT={commit}");
    // HEAD itself (a checkout), the branch it points at (a commit) and
    // packed-refs (a gc), wherever git keeps them (worktrees included);
    // only files that exist, since cargo reruns a script on every build
    // while a watched path is missing.
    let mut refs = vec!["HEAD".to_string(), "packed-refs".to_string()];
    refs.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in refs {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = dir.join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}
