fn main() -> std::process::ExitCode {
    xmpp_manifesto::cli::main()
}
