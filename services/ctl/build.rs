//! Records the git commit that `mpctl --version` prints.

include!("../git_commit.rs");

fn main() {
    emit_git_commit();
}
