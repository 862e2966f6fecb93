// TEMPORARY (drivers author): builds a host image until `flotilla image build` is wired.
use flotilla::drivers::container::image::{build, BuildOptions};
#[tokio::main]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    let opts = BuildOptions { suite: a.get(1).cloned().unwrap_or("bookworm".into()), with_docker: a.iter().any(|x| x == "--with-docker"), tag: None };
    match build(&opts, &|l| println!("{l}")).await {
        Ok(t) => println!("OK {t}"),
        Err(e) => { eprintln!("ERROR {e}"); std::process::exit(1) }
    }
}
