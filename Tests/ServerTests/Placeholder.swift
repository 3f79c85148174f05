import Testing
@testable import Server
@Test func placeholderServer() { #expect(Bool(true)) }
