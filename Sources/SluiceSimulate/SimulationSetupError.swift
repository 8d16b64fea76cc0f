/// A simulation that cannot run as asked: a bad flag value, an unknown route, a route without a
/// candidate. The message is for the operator and names the flag or the route.
public struct SimulationSetupError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong and what to do instead.
    public var message: String

    /// Creates an error with `message`.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}
