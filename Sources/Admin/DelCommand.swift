import ArgumentParser
import MyStoreClient

/// `mystore del KEY...`: deletes keys, printing how many existed.
struct DelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "del", abstract: "Delete keys; print how many existed.")

    @Argument(help: "The keys.") var keys: [String]
    @OptionGroup var cluster: ClusterOptions

    struct Result: Codable, Hashable { var deleted: Int }

    func validate() throws {
        if keys.isEmpty { throw ValidationError("give at least one key") }
    }

    func run() throws {
        let deleted = try cluster.client().delete(keys.map { Array($0.utf8) })
        print(cluster.json ? try Output.json(Result(deleted: deleted)) : "deleted \(deleted)")
    }
}
