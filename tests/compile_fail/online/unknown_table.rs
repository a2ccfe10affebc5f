fn main() {
    let _ = lifeguard::query!("SELECT *\nFROM no_such_table");
}
