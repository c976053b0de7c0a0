import Foundation

/// Headless Chromium (Debian's `chromium` package, which `make test` installs) run as a real
/// subprocess: screenshots, DOM dumps and the page's console output.
public enum Chromium {
    /// The browser on PATH, if any.
    public static let executable: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for directory in path.split(separator: ":") {
                let candidate = "\(directory)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
        }
        return nil
    }()

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// True when the run hit the time limit and was killed (with every process it started).
        public var timedOut: Bool { status == 124 || status == 137 }

        /// Messages the page wrote to its console, uncaught errors included: the `CONSOLE` lines of
        /// `--enable-logging=stderr --v=0` output.
        public var consoleMessages: [String] {
            stderr.split(separator: "\n").filter { $0.contains(":CONSOLE") }.map(String.init)
        }
    }

    /// Runs the browser headless on `url` with `arguments`, in a throwaway profile under `scratch`,
    /// logging to standard error. `timeout` (GNU coreutils) kills the browser's whole process group
    /// after `seconds`, so a hung browser cannot hang the test suite.
    public static func run(_ arguments: [String], url: URL, scratch: TemporaryDirectory, seconds: Int = 90) throws -> Result {
        guard let executable else { throw Failure(description: "chromium is not installed") }
        let profile = scratch.file("chromium-profile-\(UUID().uuidString.prefix(8))")
        let arguments = ["-k", "5", String(seconds), executable,
            "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
            "--user-data-dir=\(profile.path)", "--enable-logging=stderr", "--v=0"] + arguments + [url.absoluteString]
        defer { try? FileManager.default.removeItem(at: profile) }
        guard let result = Subprocess.run(URL(fileURLWithPath: "/usr/bin/timeout"), arguments) else {
            throw Failure(description: "cannot run /usr/bin/timeout")
        }
        return Result(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }
}

/// What a PNG file shows, decoded by Python's standard library (zlib and struct; no imaging package).
public struct PNGSummary: Decodable, Sendable {
    public var width: Int
    public var height: Int
    /// Share of pixels that are not white.
    public var inked: Double
    /// Pixels of each requested colour ("#RRGGBB"), exactly.
    public var colours: [String: Int]
    /// Pixels that are not white in the rightmost `margin` columns.
    public var inkedInRightMargin: Int

    public static func read(_ url: URL, colours: [String], margin: Int) throws -> PNGSummary {
        let script = """
            import json, struct, sys, zlib
            path, margin, wanted = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
            data = open(path, "rb").read()
            assert data[:8] == b"\\x89PNG\\r\\n\\x1a\\n", "not a PNG file"
            pos, idat = 8, b""
            while pos < len(data):
                n, kind = struct.unpack(">I", data[pos:pos + 4])[0], data[pos + 4:pos + 8]
                body = data[pos + 8:pos + 8 + n]
                pos += 12 + n
                if kind == b"IHDR":
                    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
                elif kind == b"IDAT":
                    idat += body
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
            raw, stride = zlib.decompress(idat), w * bpp
            prev, i = bytearray(stride), 0
            targets = {bytes.fromhex(c[1:]): c for c in wanted}
            counts = {c: 0 for c in wanted}
            inked = margin_inked = 0
            for y in range(h):
                f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
                i += 1 + stride
                for x in range(stride):
                    a = line[x - bpp] if x >= bpp else 0
                    b = prev[x]
                    c = prev[x - bpp] if x >= bpp else 0
                    if f == 1: line[x] = (line[x] + a) & 255
                    elif f == 2: line[x] = (line[x] + b) & 255
                    elif f == 3: line[x] = (line[x] + ((a + b) >> 1)) & 255
                    elif f == 4:
                        p = a + b - c
                        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                        line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
                for x in range(w):
                    px = bytes(line[x * bpp:x * bpp + 3])
                    if px != b"\\xff\\xff\\xff":
                        inked += 1
                        if x >= w - margin: margin_inked += 1
                    if px in targets: counts[targets[px]] += 1
                prev = line
            print(json.dumps({"width": w, "height": h, "inked": inked / (w * h), "colours": counts, "inkedInRightMargin": margin_inked}))
            """
        let output = try Python.output(script, [url.path, String(margin)] + colours)
        return try JSONDecoder().decode(PNGSummary.self, from: Data(output.utf8))
    }
}
