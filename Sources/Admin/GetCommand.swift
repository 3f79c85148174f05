import ArgumentParser
import MyStoreClient

/// `mystore get KEY [--history N]`: a key's value, or its last N values with their log indexes.
struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print KEY's value (exit 1 when absent), or its recent values with --history.",
        discussion: "With --json an absent key prints {\"key\": ..., \"value\": null} and exits 0."
    )

    @Argument(help: "The key.") var key: String
    @Option(help: ArgumentHelp("Print the key's last N values (newest first) with the log index that wrote each.", valueName: "N"))
    var history: Int?
    @OptionGroup var cluster: ClusterOptions

    /// `{"key": ..., "value": ...}`; an absent key's value is an explicit null.
    struct Value: Codable, Hashable {
        var key: String
        var value: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(key, forKey: .key)
            try container.encode(value, forKey: .value)  // Optional: null rather than omitted
        }
    }

    /// `{"index": ..., "value": ...}`; a deletion's value is an explicit null.
    struct HistoryEntry: Codable, Hashable {
        var index: UInt64
        var value: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(value, forKey: .value)
        }
    }

    func validate() throws {
        if let history, history < 1 { throw ValidationError("--history must be at least 1") }
    }

    func run() throws {
        let client = try cluster.client()
        if let history {
            let entries = try client.history(Array(key.utf8), limit: history)
                .map { HistoryEntry(index: $0.index, value: $0.value.map(Output.text)) }
            if cluster.json {
                print(try Output.json(entries))
            } else {
                print(Output.table(headers: ["INDEX", "VALUE"], rows: entries.map { [String($0.index), $0.value ?? "(deleted)"] }))
            }
            return
        }
        let value = try client.get(Array(key.utf8)).map(Output.text)
        if cluster.json {
            print(try Output.json(Value(key: key, value: value)))
        } else if let value {
            print(value)
        } else {
            throw AdminError("not found: \(key)")
        }
    }
}
