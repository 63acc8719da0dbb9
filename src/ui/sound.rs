//! The OK and refused sounds, best effort: the WAV files are compiled in
//! and piped to `aplay` when it is installed. No player, no sound card, a
//! muted kiosk: nothing happens and nothing fails. (A pure-Rust player
//! would need the ALSA development headers at build time.)

use std::io::Write as _;
use std::process::{Command, Stdio};

static OK_WAV: &[u8] = include_bytes!("../../assets/sounds/ok.wav");
static REFUSED_WAV: &[u8] = include_bytes!("../../assets/sounds/refused.wav");

/// Which sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sound {
    Ok,
    Refused,
}

/// Plays `sound` on a short-lived thread; never blocks, never fails.
pub fn play(sound: Sound) {
    let bytes = match sound {
        Sound::Ok => OK_WAV,
        Sound::Refused => REFUSED_WAV,
    };
    let _ = std::thread::Builder::new()
        .name("xinyi-sound".into())
        .spawn(move || {
            let child = Command::new("aplay")
                .args(["-q", "-"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            if let Ok(mut child) = child {
                if let Some(mut stdin) = child.stdin.take() {
                    let _ = stdin.write_all(bytes);
                }
                let _ = child.wait();
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sounds_are_wav_files() {
        for b in [OK_WAV, REFUSED_WAV] {
            assert_eq!(&b[..4], b"RIFF");
            assert_eq!(&b[8..12], b"WAVE");
        }
    }
}
