//! `uniffi-bindgen`: generates foreign-language bindings from the built fieldloop-ffi library.

fn main() {
    uniffi::uniffi_bindgen_main()
}
