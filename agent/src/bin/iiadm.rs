//! `iiadm`: the administrator's command line of dsimage (see `dsimage_agent::client`
//! and docs/iiadm.md).

fn main() -> std::process::ExitCode {
    dsimage_agent::client::main()
}
