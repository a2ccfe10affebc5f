#[derive(lifeguard::Model)]
#[lifeguard(table = "film")]
struct Film {
    #[lifeguard(primary_key, default)]
    film_id: i32,
    title: String,
}

fn main() {
    // `title` is text: an integer is not a value for it.
    let _ = Film::find().filter(Film::Title.eq(5));
}
