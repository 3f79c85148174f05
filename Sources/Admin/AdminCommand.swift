import ArgumentParser

/// `mystore`: MyStore's command-line client for operators. It speaks only the wire protocol.
struct AdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mystore",
        abstract: "Inspect and administer a MyStore cluster.",
        version: "0.1.0",
        subcommands: [
            PutCommand.self, GetCommand.self, DelCommand.self, CasCommand.self,
            MembersCommand.self, StatusCommand.self, ShardsCommand.self, PingCommand.self,
            NodeCommand.self, RebalanceCommand.self, ShardCommand.self, LeaderCommand.self,
            BackupCommand.self, RestoreCommand.self,
        ]
    )
}
