import SluiceConfig
import Testing

struct UnitsTests {
    @Test func durations() {
        #expect(Durations.parseNanos("250ms") == 250_000_000)
        #expect(Durations.parseNanos("5s") == 5_000_000_000)
        #expect(Durations.parseNanos("10m") == 600_000_000_000)
        #expect(Durations.parseNanos("1h") == 3_600_000_000_000)
        #expect(Durations.parseNanos("750us") == 750_000)
        #expect(Durations.parseNanos("30") == 30_000_000_000)   // plain integer: seconds
        #expect(Durations.parseNanos("0s") == 0)
        for bad in ["", "s", "-5s", "1.5s", "5 s", "5sec", "5S", "99999999999999h"] {
            #expect(Durations.parseNanos(bad) == nil, "\(bad)")
        }
    }

    @Test func sizes() {
        #expect(Sizes.parseBytes("512KiB") == 512 * 1024)
        #expect(Sizes.parseBytes("1MiB") == 1 << 20)
        #expect(Sizes.parseBytes("1GiB") == 1 << 30)
        #expect(Sizes.parseBytes("100B") == 100)
        #expect(Sizes.parseBytes("4096") == 4096)   // plain integer: bytes
        for bad in ["", "MiB", "1MB", "1mib", "1.5MiB", "-1", "99999999999999999GiB"] {
            #expect(Sizes.parseBytes(bad) == nil, "\(bad)")
        }
    }

    @Test func percents() {
        #expect(Percent.parseBasisPoints("95") == 9500)
        #expect(Percent.parseBasisPoints("0") == 0)
        #expect(Percent.parseBasisPoints("100") == 10_000)
        #expect(Percent.parseBasisPoints("33.33") == 3333)
        #expect(Percent.parseBasisPoints("0.5") == 50)
        #expect(Percent.parseBasisPoints("0.01") == 1)
        for bad in ["", "100.01", "101", "-1", "1.234", "1e2", ".5", "5.", "5%"] {
            #expect(Percent.parseBasisPoints(bad) == nil, "\(bad)")
        }
        #expect(Percent.format(basisPoints: 9500) == "95")
        #expect(Percent.format(basisPoints: 9950) == "99.5")
        #expect(Percent.format(basisPoints: 9905) == "99.05")
    }

    @Test func addresses() throws {
        #expect(try Addresses.parse("127.0.0.1:8080").get() == .init(host: "127.0.0.1", port: 8080))
        #expect(try Addresses.parse("0.0.0.0:0").get() == .init(host: "0.0.0.0", port: 0))
        #expect(try Addresses.parse("localhost:65535").get() == .init(host: "localhost", port: 65535))
        #expect(try Addresses.parse("[::1]:9901").get() == .init(host: "::1", port: 9901))
        #expect(try Addresses.parse("[2001:db8::7]:443").get() == .init(host: "2001:db8::7", port: 443))
        #expect(try Addresses.parse("[::ffff:10.0.0.1]:80").get() == .init(host: "::ffff:10.0.0.1", port: 80))
        for bad in ["127.0.0.1", "127.0.0.1:65536", "127.0.0.1:", "256.0.0.1:80", "1.2.3:80", "::1:80",
                    "[::1]", "[]:80", "[fe80::zz]:80", "example.com:80", ":80", "127.0.0.1:+80"] {
            #expect(throws: AddressError.self, "\(bad)") { try Addresses.parse(bad).get() }
        }
    }
}
