import Foundation

/// `seconds`, stretched tenfold in a sanitized build: the limits catch runaway
/// (quadratic, looping) work, not ordinary slowness, and sanitizers slow everything.
func crawlLimit(_ seconds: Int) -> Duration {
    // The sanitizer runtimes export these entry points; an unsanitized process has neither.
    let process = dlopen(nil, RTLD_LAZY)
    let sanitized = dlsym(process, "__asan_init") != nil || dlsym(process, "__ubsan_handle_add_overflow") != nil
    return .seconds(sanitized ? 10 * seconds : seconds)
}
