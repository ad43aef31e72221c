//! `synth-forward`: parse flags, call the library, print one JSON summary line.

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
    println!("synth-forward: skeleton");
}
