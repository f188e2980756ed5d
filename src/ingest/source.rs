//! Byte sources read in newline-aligned windows: a memory-mapped file, a gzip stream, stdin.
//!
//! Why windows: a 2 GiB log must not cost 2 GiB of memory. A file is mapped one window at a
//! time (the mapping is dropped before the next one, so its pages leave the resident set);
//! streams are read into a few buffers that each window hands back when it is dropped.
//! Each window ends at a newline; the reader numbers lines as it parses them, so every
//! later message can say `file:line`. A line longer than a whole window cannot be a log
//! record worth reading: it is skipped here, and reading resumes after its newline
//! without ever holding it.

use memmap2::{Mmap, MmapOptions};
use std::fs::File;
use std::io::{self, Read};

/// Default window size: large enough that per-window overhead vanishes, small enough that
/// two threads each holding one stay far below the memory target.
pub const WINDOW: usize = 8 * 1024 * 1024;

/// A line that was too long to hold, skipped by the source itself. The long lines a
/// window lists come right before its first line, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongLine {
    pub bytes: u64,
}

/// One newline-aligned piece of input.
pub struct Window {
    data: WindowData,
    /// Lines too long to hold, skipped right before this window's first line.
    pub long_lines: Vec<LongLine>,
}

enum WindowData {
    Mapped(Mmap, usize),
    Owned(Vec<u8>),
    /// A stream's buffer, which goes back to its reader when the window is dropped.
    Pooled(Pooled),
}

impl Window {
    pub fn bytes(&self) -> &[u8] {
        match &self.data {
            WindowData::Mapped(m, len) => &m[..*len],
            WindowData::Owned(v) => v,
            WindowData::Pooled(p) => &p.buf,
        }
    }
}

/// Buffers a stream reader hands out and gets back.
///
/// Why: a pipe's windows were each a new 8 MiB buffer, which the allocator took from the
/// system and the kernel zeroed page by page; on a 1 GiB pipe that was a fifth of the run's
/// time in the kernel and 100 MiB more peak memory than reading the file.
type Spares = std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>;

/// How many spare buffers a reader keeps: the window being parsed, the one read ahead and
/// the one being unmapped or freed.
const SPARES: usize = 3;

struct Pooled {
    buf: Vec<u8>,
    home: Spares,
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        // A poisoned lock (a panic elsewhere) only costs the buffer.
        if let Ok(mut spares) = self.home.lock() {
            if spares.len() < SPARES {
                spares.push(buf);
            }
        }
    }
}

/// Where the bytes come from.
pub enum ByteSource {
    Mapped(MappedFile),
    Stream(StreamReader),
}

impl ByteSource {
    /// Opens a plain file for mapped reading, or a gzip file / any reader as a stream.
    pub fn open_path(path: &std::path::Path, window: usize) -> io::Result<ByteSource> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::other("is a folder"));
        }
        let mut magic = [0u8; 2];
        let n = read_full(&mut file, &mut magic)?;
        if n == 2 && magic == [0x1f, 0x8b] {
            let file = File::open(path)?;
            let dec = flate2::read::MultiGzDecoder::new(io::BufReader::new(file));
            return Ok(ByteSource::Stream(StreamReader::new(Box::new(dec), window)));
        }
        if !meta.is_file() {
            // FIFOs and character devices cannot be mapped.
            let file = File::open(path)?;
            return Ok(ByteSource::Stream(StreamReader::new(
                Box::new(file),
                window,
            )));
        }
        Ok(ByteSource::Mapped(MappedFile {
            file,
            len: meta.len(),
            offset: 0,
            window: window as u64,
        }))
    }

    /// Standard input: mapped like a named file when it is one (`grantscope analyze - <
    /// app.log`), read as a stream otherwise (a pipe, a terminal, gzip).
    ///
    /// Why: read through a pipe-sized buffer, a redirected 1 GiB log took 0.82 s against
    /// the 0.69 s of naming the same file. The price is a named file's: a log truncated
    /// while it is read (`copytruncate` rotation) ends the run with SIGBUS instead of
    /// cutting it short (see `MappedFile::map`).
    ///
    /// `follow`: a stream hands on what each read brings (see [`StreamReader::follow`]).
    pub fn open_stdin(window: usize, follow: bool) -> ByteSource {
        #[cfg(unix)]
        if let Some(mapped) = stdin_file(window) {
            return ByteSource::Mapped(mapped);
        }
        let mut source = ByteSource::stream(Box::new(io::stdin()), window);
        if let ByteSource::Stream(s) = &mut source {
            s.follow = follow;
        }
        source
    }

    pub fn stream(reader: Box<dyn Read + Send>, window: usize) -> ByteSource {
        let gz = GzSniffer::new(reader);
        ByteSource::Stream(StreamReader::new(gz.into_reader(), window))
    }

    /// The next window, or `None` at the end of input.
    pub fn next_window(&mut self) -> io::Result<Option<Window>> {
        match self {
            ByteSource::Mapped(m) => m.next_window(),
            ByteSource::Stream(s) => s.next_window(),
        }
    }

    /// Reads everything that is left as one window (for formats that need the whole
    /// document, such as HAR). A mapped file stays mapped, not copied.
    pub fn rest(&mut self) -> io::Result<Window> {
        match self {
            ByteSource::Mapped(m) => m.rest(),
            ByteSource::Stream(s) => s.rest(),
        }
    }

    /// The first `n` bytes (fewer if the input is shorter), without consuming them: for
    /// format detection before reading.
    pub fn peek_head(&mut self, n: usize) -> io::Result<Vec<u8>> {
        match self {
            ByteSource::Mapped(m) => {
                let n = (n as u64).min(m.len.saturating_sub(m.offset));
                if n == 0 {
                    return Ok(Vec::new());
                }
                Ok(m.map(m.offset, n)?.to_vec())
            }
            ByteSource::Stream(s) => {
                let mut carry = std::mem::take(&mut s.carry);
                s.fill(&mut carry, n);
                // Following, each read may bring a line or two (or the two bytes the gzip
                // sniffer took): the head waits for enough lines to tell the format by.
                while s.follow && !s.eof && carry.len() < n && !holds_lines(&carry, HEAD_LINES) {
                    s.fill(&mut carry, n);
                }
                let head = carry[..carry.len().min(n)].to_vec();
                s.carry = carry;
                Ok(head)
            }
        }
    }

    /// Bytes in the file, when known (for progress).
    pub fn len_hint(&self) -> Option<u64> {
        match self {
            ByteSource::Mapped(m) => Some(m.len),
            ByteSource::Stream(_) => None,
        }
    }

    /// Whether a decoding error (damaged gzip) ended the stream early.
    pub fn damage(&self) -> Option<&str> {
        match self {
            ByteSource::Stream(s) => s.damage.as_deref(),
            ByteSource::Mapped(_) => None,
        }
    }
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// About how many bytes a chunk holds.
const CHUNK: usize = 1 << 20;

/// Cuts a window into chunks that end at a newline (or at the end): the unit that lines
/// are parsed in, in parallel. Lines are not counted here: each chunk counts its own as it
/// is parsed, and its lines are numbered once the chunks before it are done (a pass that
/// counted them first read every byte once more).
pub fn chunk_bounds(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut bounds = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let mut end = (start + CHUNK).min(bytes.len());
        if end < bytes.len() {
            end = match memchr::memchr(b'\n', &bytes[end..]) {
                Some(i) => end + i + 1,
                None => bytes.len(),
            };
        }
        bounds.push(start..end);
        start = end;
    }
    bounds
}

/// Standard input as a file to map, from where its reading stands (a shell may have read
/// part of it already), when it is a plain file that is not gzip; None otherwise.
#[cfg(unix)]
fn stdin_file(window: usize) -> Option<MappedFile> {
    use std::io::Seek;
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileExt;
    let mut file = File::from(io::stdin().as_fd().try_clone_to_owned().ok()?);
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    let offset = file.stream_position().ok()?;
    // Read where the stream stands without moving it: a gzip file goes the stream's way,
    // which then still sees these bytes.
    let mut magic = [0u8; 2];
    if file.read_at(&mut magic, offset).ok()? == 2 && magic == [0x1f, 0x8b] {
        return None;
    }
    // Consumed, as reading it would leave it: a second `-`, or the shell's next reader
    // (`{ grantscope analyze -; wc -c; } < app.log`), finds nothing left.
    file.seek(io::SeekFrom::Start(meta.len().max(offset)))
        .ok()?;
    Some(MappedFile {
        file,
        len: meta.len(),
        offset,
        window: window as u64,
    })
}

/// A regular file, mapped window by window.
pub struct MappedFile {
    file: File,
    len: u64,
    offset: u64,
    window: u64,
}

impl MappedFile {
    fn map(&self, offset: u64, len: u64) -> io::Result<Mmap> {
        // SAFETY: the mapping is read-only and private to this process. If another process
        // truncates the file while we read it, touching the lost pages raises SIGBUS; that
        // is the documented risk of mapping files, which ripgrep and others accept too, and
        // logs are appended, not truncated, while being read.
        let map = unsafe {
            MmapOptions::new()
                .offset(offset)
                .len(len as usize)
                .map(&self.file)?
        };
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(map)
    }

    fn next_window(&mut self) -> io::Result<Option<Window>> {
        let mut long_lines = Vec::new();
        loop {
            if self.offset >= self.len {
                return Ok(if long_lines.is_empty() {
                    None
                } else {
                    Some(Window {
                        data: WindowData::Owned(Vec::new()),
                        long_lines,
                    })
                });
            }
            let left = self.len - self.offset;
            let take = left.min(self.window);
            let map = self.map(self.offset, take)?;
            if take == left {
                self.offset = self.len;
                return Ok(Some(Window {
                    data: WindowData::Mapped(map, take as usize),
                    long_lines,
                }));
            }
            match memchr::memrchr(b'\n', &map) {
                Some(i) => {
                    let used = i + 1;
                    self.offset += used as u64;
                    return Ok(Some(Window {
                        data: WindowData::Mapped(map, used),
                        long_lines,
                    }));
                }
                None => {
                    // One line fills the whole window: find its end without holding it.
                    drop(map);
                    let start = self.offset;
                    let mut pos = start + take;
                    let end = loop {
                        if pos >= self.len {
                            break self.len;
                        }
                        let n = (self.len - pos).min(self.window);
                        let m = self.map(pos, n)?;
                        if let Some(i) = memchr::memchr(b'\n', &m) {
                            break pos + i as u64 + 1;
                        }
                        pos += n;
                    };
                    long_lines.push(LongLine { bytes: end - start });
                    self.offset = end;
                }
            }
        }
    }

    fn rest(&mut self) -> io::Result<Window> {
        let left = self.len.saturating_sub(self.offset);
        if left == 0 {
            return Ok(Window {
                data: WindowData::Owned(Vec::new()),
                long_lines: Vec::new(),
            });
        }
        let map = self.map(self.offset, left)?;
        self.offset = self.len;
        Ok(Window {
            data: WindowData::Mapped(map, left as usize),
            long_lines: Vec::new(),
        })
    }
}

/// Lines that format detection looks at, at most (see `ingest::detect`).
const HEAD_LINES: usize = 20;

/// Whether `text` holds `n` whole lines that are not blank.
fn holds_lines(text: &[u8], n: usize) -> bool {
    text.split(|b| *b == b'\n')
        .rev()
        .skip(1)
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .count()
        >= n
}

/// Recognises a gzip stream by its magic bytes without losing them.
struct GzSniffer {
    head: Vec<u8>,
    inner: Box<dyn Read + Send>,
}

impl GzSniffer {
    fn new(mut inner: Box<dyn Read + Send>) -> GzSniffer {
        let mut head = vec![0u8; 2];
        let n = read_full(&mut *inner, &mut head).unwrap_or(0);
        head.truncate(n);
        GzSniffer { head, inner }
    }

    fn into_reader(self) -> Box<dyn Read + Send> {
        let is_gz = self.head == [0x1f, 0x8b];
        let chained: Box<dyn Read + Send> = Box::new(io::Cursor::new(self.head).chain(self.inner));
        if is_gz {
            Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(
                chained,
            )))
        } else {
            chained
        }
    }
}

/// A stream (stdin, a pipe, a gzip decoder) read into buffers that come back after use.
pub struct StreamReader {
    reader: Box<dyn Read + Send>,
    window: usize,
    /// Bytes read but not yet handed out (the start of an unfinished line).
    carry: Vec<u8>,
    eof: bool,
    /// Inside a line too long to hold: the bytes of it so far.
    skipping: Option<u64>,
    damage: Option<String>,
    /// Window buffers back from the windows that used them.
    spares: Spares,
    /// Hand on whole lines as soon as a read comes back short (the writer has nothing more
    /// for now), rather than when the window is full: a log followed as it is written
    /// (`tail -f app.log | grantscope watch --follow -`) trickles in, and a window of
    /// it would take hours to fill.
    pub follow: bool,
}

impl StreamReader {
    fn new(reader: Box<dyn Read + Send>, window: usize) -> StreamReader {
        StreamReader {
            reader,
            window,
            carry: Vec::new(),
            eof: false,
            skipping: None,
            damage: None,
            spares: Spares::default(),
            follow: false,
        }
    }

    /// A buffer for the next window, holding what was carried over from the last one.
    fn buffer(&mut self) -> Vec<u8> {
        let spare = self.spares.lock().ok().and_then(|mut s| s.pop());
        let mut buf = spare.unwrap_or_default();
        buf.extend_from_slice(&self.carry);
        self.carry.clear();
        buf
    }

    /// Reads until `buf` holds `want` bytes or the stream ends, or, when following, until
    /// a read leaves a whole line in it (at least one read, which may wait). A read error
    /// ends the stream: what came before it is kept (a damaged `.gz` still yields its good
    /// part).
    ///
    /// The buffer is zeroed ahead of the reads a step at a time (a short stream does not
    /// pay for a whole window), and each byte once: a pipe hands out 64 KiB a read, and
    /// zeroing a step before each read zeroed every byte sixteen times, which made reading
    /// a log from a pipe half again as slow as from its file.
    fn fill(&mut self, buf: &mut Vec<u8>, want: usize) {
        const STEP: usize = 1 << 20;
        let mut filled = buf.len();
        let mut whole_line = self.follow && memchr::memchr(b'\n', buf).is_some();
        while filled < want && !self.eof {
            if filled == buf.len() {
                buf.resize(filled + (want - filled).min(STEP), 0);
            }
            match self.reader.read(&mut buf[filled..]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    let read = &buf[filled..filled + n];
                    whole_line =
                        whole_line || (self.follow && memchr::memchr(b'\n', read).is_some());
                    filled += n;
                    // Following: what came is handed on; the next read may wait for long.
                    if whole_line {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.damage = Some(e.to_string());
                    self.eof = true;
                }
            }
        }
        buf.truncate(filled);
    }

    fn next_window(&mut self) -> io::Result<Option<Window>> {
        let mut long_lines = Vec::new();
        loop {
            let mut buf = self.buffer();
            if let Some(so_far) = self.skipping {
                // Discard the rest of an over-long line.
                let mut skipped = so_far;
                loop {
                    if let Some(i) = memchr::memchr(b'\n', &buf) {
                        skipped += i as u64 + 1;
                        buf.drain(..=i);
                        long_lines.push(LongLine { bytes: skipped });
                        self.skipping = None;
                        break;
                    }
                    skipped += buf.len() as u64;
                    buf.clear();
                    if self.eof {
                        long_lines.push(LongLine { bytes: skipped });
                        self.skipping = None;
                        return Ok(Some(Window {
                            data: WindowData::Owned(Vec::new()),
                            long_lines,
                        }));
                    }
                    self.fill(&mut buf, self.window);
                }
            }
            // Following, whole lines at hand (the head read to detect the format) go on
            // without waiting for the writer.
            if !(self.follow && memchr::memchr(b'\n', &buf).is_some()) {
                self.fill(&mut buf, self.window);
            }
            if buf.is_empty() && self.eof {
                return Ok(if long_lines.is_empty() {
                    None
                } else {
                    Some(Window {
                        data: WindowData::Owned(Vec::new()),
                        long_lines,
                    })
                });
            }
            let cut = if self.eof {
                Some(buf.len())
            } else {
                memchr::memrchr(b'\n', &buf).map(|i| i + 1)
            };
            match cut {
                Some(cut) => {
                    self.carry.extend_from_slice(&buf[cut..]);
                    buf.truncate(cut);
                    return Ok(Some(Window {
                        data: WindowData::Pooled(Pooled {
                            buf,
                            home: self.spares.clone(),
                        }),
                        long_lines,
                    }));
                }
                None => {
                    self.skipping = Some(buf.len() as u64);
                    // `buf` is dropped: the over-long line is never held whole.
                }
            }
        }
    }

    fn rest(&mut self) -> io::Result<Window> {
        let mut buf = std::mem::take(&mut self.carry);
        // A document (a HAR) is read whole, followed or not.
        self.follow = false;
        while !self.eof {
            let want = buf.len() + self.window;
            self.fill(&mut buf, want);
        }
        Ok(Window {
            data: WindowData::Owned(buf),
            long_lines: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each window with the number of its first line.
    type Numbered = Vec<(u64, Vec<u8>)>;

    /// Each window, and each long line skipped with its number and length, numbered as the
    /// reader numbers them.
    fn collect(mut src: ByteSource) -> (Numbered, Vec<(u64, u64)>) {
        let mut wins = Vec::new();
        let mut longs = Vec::new();
        let mut line = 1;
        while let Some(w) = src.next_window().unwrap() {
            for long in &w.long_lines {
                longs.push((line, long.bytes));
                line += 1;
            }
            if !w.bytes().is_empty() {
                wins.push((line, w.bytes().to_vec()));
                line += memchr::memchr_iter(b'\n', w.bytes()).count() as u64;
            }
        }
        (wins, longs)
    }

    /// A reader that hands out at most 3 bytes per call, like a pipe with small writes.
    struct Trickle(Vec<u8>, usize);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(3).min(self.0.len() - self.1);
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    fn text() -> Vec<u8> {
        let mut t = Vec::new();
        for i in 0..50 {
            t.extend_from_slice(format!("line {i} ok\n").as_bytes());
            if i == 20 {
                t.extend(std::iter::repeat_n(b'x', 100));
                t.push(b'\n');
            }
        }
        t
    }

    fn check(wins: &[(u64, Vec<u8>)], longs: &[(u64, u64)]) {
        assert_eq!(longs, &[(22, 101)]);
        // Every window starts at a line start and numbers lines exactly.
        let mut seen = Vec::new();
        for (first, bytes) in wins {
            for (k, l) in bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .enumerate()
            {
                let line = first + k as u64;
                seen.push((line, String::from_utf8(l.to_vec()).unwrap()));
            }
        }
        assert_eq!(seen.len(), 50);
        assert_eq!(seen[0].1, "line 0 ok");
        assert!(seen.iter().any(|(n, l)| *n == 23 && l == "line 21 ok"));
        assert_eq!(seen.last().unwrap().1, "line 49 ok");
    }

    #[test]
    fn stream_windows_align_and_skip_long_lines() {
        let src = ByteSource::stream(Box::new(Trickle(text(), 0)), 64);
        let (wins, longs) = collect(src);
        check(&wins, &longs);
    }

    /// A stream's window buffer goes back to the reader when the window is dropped, and the
    /// next window is read into it; a window still held keeps its own.
    #[test]
    fn stream_windows_reuse_their_buffers() {
        let mut src = ByteSource::stream(Box::new(io::Cursor::new(text())), 64);
        let spares = |src: &ByteSource| match src {
            ByteSource::Stream(r) => r.spares.lock().unwrap().len(),
            ByteSource::Mapped(_) => unreachable!("a stream"),
        };
        let first = src.next_window().unwrap().unwrap();
        let held = src.next_window().unwrap().unwrap();
        assert_eq!(spares(&src), 0);
        drop(first);
        assert_eq!(spares(&src), 1);
        let again = src.next_window().unwrap().unwrap();
        assert_eq!(spares(&src), 0);
        assert!(again.bytes().starts_with(b"line ") && held.bytes().starts_with(b"line "));
        drop((held, again));
        assert_eq!(spares(&src), 2);
    }

    #[test]
    fn chunks_cover_the_window_and_end_at_newlines() {
        let mut text = Vec::new();
        for i in 0..120_000 {
            text.extend_from_slice(format!("line {i} {}\n", "x".repeat(i % 40)).as_bytes());
        }
        text.extend_from_slice(b"no newline at the end");
        let chunks = chunk_bounds(&text);
        assert!(chunks.len() > 2, "{} chunks", chunks.len());
        let mut at = 0;
        for c in &chunks {
            assert_eq!(c.start, at);
            assert!(c.end == text.len() || text[c.end - 1] == b'\n');
            at = c.end;
        }
        assert_eq!(at, text.len());
        assert!(chunk_bounds(b"").is_empty());
    }

    #[test]
    fn mapped_windows_align_and_skip_long_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, text()).unwrap();
        let (wins, longs) = collect(ByteSource::open_path(&p, 64).unwrap());
        check(&wins, &longs);
    }

    #[test]
    fn gzip_streams_are_decoded_and_damage_keeps_the_good_part() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&text()).unwrap();
        let gz = enc.finish().unwrap();
        let (wins, longs) = collect(ByteSource::stream(
            Box::new(io::Cursor::new(gz.clone())),
            64,
        ));
        check(&wins, &longs);
        let cut = gz[..gz.len() / 2].to_vec();
        let mut src = ByteSource::stream(Box::new(io::Cursor::new(cut)), 1 << 20);
        let w = src.next_window().unwrap().unwrap();
        assert!(w.bytes().starts_with(b"line 0 ok\n"));
        assert!(src.damage().is_some());
    }
}
