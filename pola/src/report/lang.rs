//! The words of the report in English and Bahasa Indonesia: table rows, section titles, and the
//! sentences that state what each capture proves, with `{0}`, `{1}`... filled from the packets.

use super::proof::Claim;

/// Every piece of text the report prints.
pub struct Words {
    pub lang: &'static str,
    pub title: &'static str,
    pub intro: &'static str,
    pub rows: [&'static str; 12],
    pub ladder: &'static str,
    pub ladder_more: &'static str,
    pub proves: &'static str,
    pub holds: &'static str,
    pub fails: &'static str,
    pub kinds: &'static str,
    pub problems: &'static str,
    pub truncated: &'static str,
    pub gaps: &'static str,
    pub broker_middle: &'static str,
    pub echo: &'static str,
    pub plain_tcp: &'static str,
    pub answered: &'static str,
    pub item_life: &'static str,
    pub alternation: &'static str,
    pub round_robin: &'static str,
    pub fair_queue: &'static str,
    pub topics: &'static str,
    pub curve: &'static str,
    pub md_ladder: &'static str,
    pub fault_title: &'static str,
    pub fault_cols: [&'static str; 7],
    pub fault_start: &'static str,
    pub fault_nothing_lost: &'static str,
    pub fault_no_duplicates: &'static str,
    pub twins: &'static TwinWords,
}

/// The words of the table of each plain model beside its encrypted twin.
pub struct TwinWords {
    pub title: &'static str,
    pub intro: &'static str,
    pub rows: [&'static str; 11],
    /// The plain capture: everything readable.
    pub everything: &'static str,
    /// The twin without its key.
    pub hidden: &'static str,
    /// The twin with its embedded key: `{0}` application messages opened.
    pub decrypted: &'static str,
    /// A twin whose capture holds no key that opens it (ZeroMQ CURVE, or TLS without secrets).
    pub sealed: &'static str,
}

pub const TWINS_EN: TwinWords = TwinWords {
    title: "Each plain model beside its encrypted twin",
    intro: "What encryption costs on the wire, and what an eavesdropper still reads without the key (— : nothing to show).",
    rows: [
        "packets",
        "bytes on the wire",
        "round trips before the first application message (first connection)",
        "bytes on the wire per application message",
        "encryption",
        "server address",
        "server name (SNI), readable without the key",
        "application protocol (ALPN), readable without the key",
        "encrypted records (count × size range, time span), readable without the key",
        "messages readable without the key",
        "messages readable with the key embedded in the capture",
    ],
    everything: "all",
    hidden: "none: only record sizes and times",
    decrypted: "{0} application messages decrypted",
    sealed: "cannot be decrypted: no key in the capture opens it",
};

pub const TWINS_ID: TwinWords = TwinWords {
    title: "Setiap model polos di samping kembarannya yang terenkripsi",
    intro: "Berapa biaya enkripsi di jaringan, dan apa yang masih bisa dibaca penyadap tanpa kunci (— : tidak ada).",
    rows: [
        "paket",
        "byte di jaringan",
        "round trip sebelum pesan aplikasi pertama (koneksi pertama)",
        "byte jaringan per pesan aplikasi",
        "enkripsi",
        "alamat server",
        "nama server (SNI), terbaca tanpa kunci",
        "protokol aplikasi (ALPN), terbaca tanpa kunci",
        "record terenkripsi (jumlah × rentang ukuran, rentang waktu), terbaca tanpa kunci",
        "pesan yang terbaca tanpa kunci",
        "pesan yang terbaca dengan kunci yang tertanam di tangkapan",
    ],
    everything: "semua",
    hidden: "tidak ada: hanya ukuran dan waktu record",
    decrypted: "{0} pesan aplikasi didekripsi",
    sealed: "tidak dapat didekripsi: tidak ada kunci di tangkapan yang membukanya",
};

pub const EN: Words = Words {
    lang: "en",
    title: "pola: what the captures show",
    intro: "Every figure below is computed from the packets of the captures in this folder by `pola report`.",
    rows: [
        "packets",
        "connections opened",
        "bytes on the wire",
        "application payload bytes",
        "overhead (wire bytes per payload byte)",
        "application messages",
        "packets per message",
        "round trips per message",
        "TCP handshake (bytes, ms per connection)",
        "protocol handshake (packets, bytes, ms per connection)",
        "duration (ms)",
        "malformed messages",
    ],
    ladder: "Ladder diagram (time runs downwards; like packets in a row are drawn once, with a count)",
    ladder_more: "more TCP packets not drawn: the diagram stops at 20,000 arrows (pola inspect lists every packet)",
    proves: "What this capture proves",
    holds: "holds",
    fails: "does NOT hold",
    kinds: "Messages by kind",
    problems: "Captures that could not be read",
    truncated: "this capture is truncated (cut short while being written)",
    gaps: "gap(s) in a TCP direction: bytes the capture lost; decoding resumed at the next frame after each",
    echo: "Every echo equals its request byte for byte: the client sent {0} bytes, {1} came back, {2} of them differ from what was sent and {3} were never echoed.",
    plain_tcp: "Plain TCP, no application protocol: {0} connection(s) carry data, {1} of them in a protocol pola recognises; {2} of {3} data segments carry PSH,ACK (PSH: hand the bytes over now; ACK: what has been received so far).",
    answered: "Each request is answered exactly once and in order: {0} requests over {1} connection(s), {2} without a response, {3} response(s) nobody asked for; the busiest keep-alive connection carried {4} requests (verb, route → status ×count).",
    item_life: "Each item lives its whole life: {0} of {1} deleted item(s) were created by a POST answered 201, changed by a PUT, removed by a DELETE, and answered 404 when read afterwards.",
    broker_middle: "The broker is in the middle of every PUBLISH: {0} PUBLISH arrived at the broker from publishers and {1} left it for subscribers; {2} of those {1} deliveries carry the topic and payload of an earlier incoming PUBLISH.",
    alternation: "REQ and REP strictly alternate: {0} request/reply pairs over {1} connection(s), each connection going request, reply, request, reply (Q = request, P = reply).",
    round_robin: "PUSH at {0} hands out its tasks round robin: {1} tasks over {2} connections, each task to the next connection in turn; {3} went out of turn (each connection's tasks, in task order).",
    fair_queue: "PULL at {0} fair-queues what the PUSH sockets connected to it send: {1} messages came in from {2} connections, each taken in as it arrived; the longest run from one connection was {3} (each connection's messages in capture order).",
    topics: "Each SUB receives only its topics: {0} subscriber connection(s), {1} message(s) outside a subscription ([subscriptions]: topics received).",
    curve: "Encrypted with CURVE on {0} connection(s): nobody can decrypt this capture, since the session keys never leave the two peers, so the model's own proofs cannot be read from it. What stays visible: the mechanism CURVE in each greeting, the command names, and the size and time of each of the {1} MESSAGE commands ({2} to {3} bytes of ciphertext) (commands seen).",
    md_ladder: "The ladder diagrams are in report.html.",
    fault_title: "The fault, step by step: what the packets show from each step to the next (times from the capture's first packet, from the .events file)",
    fault_cols: [
        "from (s)",
        "step",
        "TCP retransmissions",
        "PUBLISH redelivered (DUP)",
        "new TCP connections",
        "ZMTP greetings",
        "RSTs",
    ],
    fault_start: "capture start",
    fault_nothing_lost: "Nothing was lost across the fault: {0} of {1} client(s) printed a summary line, and together they count {2} lost, after {3} retries or reissued tasks (client (exit code): summary line).",
    twins: &TWINS_EN,
    fault_no_duplicates: "Nothing reached an application twice: the clients count {0} duplicate(s); {1} PUBLISH in the capture carry the DUP flag (a message sent again, which a QoS 1 receiver may get twice and QoS 2 never).",
};

pub const ID: Words = Words {
    lang: "id",
    title: "pola: apa yang ditunjukkan tangkapan paket",
    intro: "Setiap angka di bawah dihitung oleh `pola report` dari paket-paket tangkapan di folder ini.",
    rows: [
        "paket",
        "koneksi dibuka",
        "byte di jaringan",
        "byte muatan aplikasi",
        "overhead (byte jaringan per byte muatan)",
        "pesan aplikasi",
        "paket per pesan",
        "perjalanan pulang-pergi per pesan",
        "jabat tangan TCP (byte, ms per koneksi)",
        "jabat tangan protokol (paket, byte, ms per koneksi)",
        "durasi (ms)",
        "pesan rusak",
    ],
    ladder: "Diagram tangga (waktu berjalan ke bawah; paket serupa yang berurutan digambar sekali, dengan jumlahnya)",
    ladder_more: "paket TCP lain tidak digambar: diagram berhenti pada 20.000 panah (pola inspect menampilkan setiap paket)",
    proves: "Apa yang dibuktikan tangkapan ini",
    holds: "terbukti",
    fails: "TIDAK terbukti",
    kinds: "Pesan menurut jenis",
    problems: "Tangkapan yang tidak dapat dibaca",
    truncated: "tangkapan ini terpotong (berhenti saat sedang ditulis)",
    gaps: "celah pada satu arah TCP: byte yang hilang dari tangkapan; penguraian dilanjutkan pada frame berikutnya setelah masing-masing",
    echo: "Setiap gema sama persis dengan permintaannya, byte demi byte: klien mengirim {0} byte, {1} kembali, {2} di antaranya berbeda dari yang dikirim dan {3} tidak pernah digemakan.",
    plain_tcp: "TCP polos, tanpa protokol aplikasi: {0} koneksi membawa data, {1} di antaranya dengan protokol yang dikenali pola; {2} dari {3} segmen data membawa PSH,ACK (PSH: serahkan byte sekarang; ACK: apa yang sudah diterima sejauh ini).",
    answered: "Setiap permintaan dijawab tepat satu kali dan berurutan: {0} permintaan pada {1} koneksi, {2} tanpa jawaban, {3} jawaban yang tidak diminta; koneksi keep-alive tersibuk membawa {4} permintaan (metode, rute → status ×jumlah).",
    item_life: "Setiap item menjalani seluruh hidupnya: {0} dari {1} item yang dihapus dibuat oleh POST yang dijawab 201, diubah oleh PUT, dihapus oleh DELETE, dan dijawab 404 ketika dibaca sesudahnya.",
    broker_middle: "Broker berada di tengah setiap PUBLISH: {0} PUBLISH tiba di broker dari publisher dan {1} keluar ke subscriber; {2} dari {1} pengiriman itu membawa topik dan muatan sebuah PUBLISH yang masuk lebih dulu.",
    alternation: "REQ dan REP bergantian dengan ketat: {0} pasangan permintaan/balasan pada {1} koneksi, setiap koneksi berjalan permintaan, balasan, permintaan, balasan (Q = permintaan, P = balasan).",
    round_robin: "PUSH di {0} membagikan tugasnya secara bergiliran (round robin): {1} tugas ke {2} koneksi, setiap tugas ke koneksi berikutnya menurut giliran; {3} keluar dari gilirannya (tugas tiap koneksi, menurut urutan tugas).",
    fair_queue: "PULL di {0} mengantre secara adil (fair queueing) kiriman soket PUSH yang terhubung kepadanya: {1} pesan masuk dari {2} koneksi, masing-masing diterima saat tiba; deretan terpanjang dari satu koneksi adalah {3} (pesan tiap koneksi menurut urutan tangkapan).",
    topics: "Setiap SUB hanya menerima topiknya: {0} koneksi subscriber, {1} pesan di luar langganan ([langganan]: topik yang diterima).",
    curve: "Dienkripsi dengan CURVE pada {0} koneksi: tidak ada yang dapat mendekripsi tangkapan ini, karena kunci sesinya tidak pernah meninggalkan kedua peer, sehingga bukti model itu sendiri tidak dapat dibaca darinya. Yang tetap terlihat: mekanisme CURVE di setiap greeting, nama-nama perintah, serta ukuran dan waktu setiap {1} perintah MESSAGE ({2} sampai {3} bita ciphertext) (perintah yang terlihat).",
    md_ladder: "Diagram tangga ada di report.html.",
    fault_title: "Gangguan, langkah demi langkah: apa yang ditunjukkan paket dari satu langkah ke langkah berikutnya (waktu sejak paket pertama tangkapan, dari berkas .events)",
    fault_cols: [
        "sejak (s)",
        "langkah",
        "transmisi ulang TCP",
        "PUBLISH dikirim ulang (DUP)",
        "koneksi TCP baru",
        "salam pembuka ZMTP",
        "RST",
    ],
    fault_start: "awal tangkapan",
    fault_nothing_lost: "Tidak ada yang hilang selama gangguan: {0} dari {1} klien mencetak baris ringkasan, dan bersama-sama mereka menghitung {2} hilang, setelah {3} percobaan ulang atau tugas yang dibagikan ulang (klien (kode keluar): baris ringkasan).",
    twins: &TWINS_ID,
    fault_no_duplicates: "Tidak ada yang sampai dua kali ke aplikasi: para klien menghitung {0} duplikat; {1} PUBLISH dalam tangkapan membawa flag DUP (pesan yang dikirim ulang, yang dapat diterima dua kali pada QoS 1 dan tidak pernah pada QoS 2).",
};

pub fn words(lang: &str) -> &'static Words {
    if lang == "id" {
        &ID
    } else {
        &EN
    }
}

/// Fills `{0}`, `{1}`... of `template` with `args`.
pub fn fill(template: &str, args: &[String]) -> String {
    let mut s = template.to_string();
    for (i, a) in args.iter().enumerate() {
        s = s.replace(&format!("{{{i}}}"), a);
    }
    s
}

impl Words {
    pub fn sentence(&self, claim: Claim) -> &'static str {
        match claim {
            Claim::BrokerMiddle => self.broker_middle,
            Claim::Echo => self.echo,
            Claim::PlainTcp => self.plain_tcp,
            Claim::Answered => self.answered,
            Claim::ItemLife => self.item_life,
            Claim::Alternation => self.alternation,
            Claim::RoundRobin => self.round_robin,
            Claim::FairQueue => self.fair_queue,
            Claim::Topics => self.topics,
            Claim::Curve => self.curve,
            Claim::FaultNothingLost => self.fault_nothing_lost,
            Claim::FaultNoDuplicates => self.fault_no_duplicates,
        }
    }
}
