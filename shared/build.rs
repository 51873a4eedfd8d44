//! `sqlx::migrate!` embeds the migrations when this crate compiles; without this,
//! a change to a migration file alone would not rebuild it.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
