//! Compiles the kiosk's .slint files. Debug info is on so that the headless
//! UI tests can find elements by their accessible labels; it costs nothing
//! a clerk would notice.

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_style("fluent".into())
        .with_debug_info(true)
        // Strings are looked up by their text alone (no per-component
        // context), so one English entry serves every page.
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        // English is bundled; Chinese is the source language of every @tr.
        .with_bundled_translations("assets/translations");
    println!("cargo:rerun-if-changed=assets/translations");
    if let Err(e) = slint_build::compile_with_config("ui/app.slint", config) {
        println!("cargo:warning=slint: {e}");
        std::process::exit(1);
    }
}
