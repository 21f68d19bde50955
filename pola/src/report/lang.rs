//! The words of the report in English and Bahasa Indonesia: table rows, section titles, and the
//! sentences that state what each capture proves, with `{0}`, `{1}`... filled from the packets.

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
    pub broker_middle: &'static str,
    pub alternation: &'static str,
    pub fair_turns: &'static str,
    pub topics: &'static str,
    pub md_ladder: &'static str,
}

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
    ladder: "Ladder diagram (first packets; time runs downwards)",
    ladder_more: "more packets not drawn",
    proves: "What this capture proves",
    holds: "holds",
    fails: "does NOT hold",
    kinds: "Messages by kind",
    problems: "Captures that could not be read",
    truncated: "this capture is truncated (cut short while being written)",
    broker_middle: "The broker is in the middle of every PUBLISH: {0} PUBLISH arrived at the broker from publishers and {1} left it for subscribers; {2} of those {1} deliveries carry the topic and payload of an earlier incoming PUBLISH.",
    alternation: "REQ and REP strictly alternate: {0} request/reply pairs over {1} connection(s), each connection going request, reply, request, reply (Q = request, P = reply).",
    fair_turns: "PUSH at {0} hands out fair turns: {1} messages spread over {2} connections, the busiest got {3} more than the idlest (each connection's messages in capture order).",
    topics: "Each SUB receives only its topics: {0} subscriber connection(s), {1} message(s) outside a subscription ([subscriptions]: topics received).",
    md_ladder: "The ladder diagrams are in report.html.",
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
    ladder: "Diagram tangga (paket pertama; waktu berjalan ke bawah)",
    ladder_more: "paket lain tidak digambar",
    proves: "Apa yang dibuktikan tangkapan ini",
    holds: "terbukti",
    fails: "TIDAK terbukti",
    kinds: "Pesan menurut jenis",
    problems: "Tangkapan yang tidak dapat dibaca",
    truncated: "tangkapan ini terpotong (berhenti saat sedang ditulis)",
    broker_middle: "Broker berada di tengah setiap PUBLISH: {0} PUBLISH tiba di broker dari publisher dan {1} keluar ke subscriber; {2} dari {1} pengiriman itu membawa topik dan muatan sebuah PUBLISH yang masuk lebih dulu.",
    alternation: "REQ dan REP bergantian dengan ketat: {0} pasangan permintaan/balasan pada {1} koneksi, setiap koneksi berjalan permintaan, balasan, permintaan, balasan (Q = permintaan, P = balasan).",
    fair_turns: "PUSH di {0} membagi giliran dengan adil: {1} pesan tersebar ke {2} koneksi, yang tersibuk mendapat {3} lebih banyak dari yang paling senggang (pesan tiap koneksi menurut urutan tangkapan).",
    topics: "Setiap SUB hanya menerima topiknya: {0} koneksi subscriber, {1} pesan di luar langganan ([langganan]: topik yang diterima).",
    md_ladder: "Diagram tangga ada di report.html.",
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
    pub fn sentence(&self, key: &str) -> &'static str {
        match key {
            "broker_middle" => self.broker_middle,
            "alternation" => self.alternation,
            "fair_turns" => self.fair_turns,
            _ => self.topics,
        }
    }
}
