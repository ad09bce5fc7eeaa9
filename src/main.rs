fn main() -> std::process::ExitCode {
    incus_ai::cli::main()
}
