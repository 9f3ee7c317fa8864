use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = crm::cli::Cli::parse();
    match crm::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A closed pipe (`crm rfm | head`) is not a failure.
        Err(crm::Error::Io { message, .. }) if message.contains("Broken pipe") => {
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("crm: error: {e}");
            std::process::ExitCode::from(e.exit_code())
        }
    }
}
