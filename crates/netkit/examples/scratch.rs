fn main() {
    let c = netkit::spawn::run("", &["sh".into(), "-c".into(), "echo hi; echo rc=$? >&2".into()]).unwrap();
    println!("code {c}");
}
