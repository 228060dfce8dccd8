// codeladder's one-file runtime (`ladder compile`): llama.cpp with the GGUF appended to this executable.
//
// Layout of a compiled file: [this runtime][zero padding to a 4096-byte boundary][the GGUF][trailer], the
// trailer being 24 bytes: GGUF offset (u64 LE), GGUF size (u64 LE), "LADDERGG". The GGUF is read in place:
// gguf_init_from_file (patched, see runtime_build.py) seeks to the offset when it opens this executable,
// so GGUF offsets are absolute within the file and llama.cpp mmaps the weights from it; nothing is extracted.
//
//   FILE --prompt TEXT [-n N]   greedy completion of TEXT, like `ladder run` (llama-cpp-python) on the GGUF
//   FILE                        interactive: one prompt a line (end a line with \ to continue it)
//   FILE --server [--port P]    llama.cpp's OpenAI-compatible server (/v1/completions, /v1/chat/completions)
#include "build-info.h"
#include "chat.h"
#include "common.h"
#include "llama.h"
#include "log.h"

#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

extern "C" {
extern const char * gguf_embedded_path;
extern uint64_t gguf_embedded_offset;
}
int llama_server(int argc, char ** argv);

static const char MAGIC[8] = {'L', 'A', 'D', 'D', 'E', 'R', 'G', 'G'};

struct options {
    std::string prompt, mode = "auto", host = "127.0.0.1", port = "8080";
    bool has_prompt = false, server = false, verbose = false, timings = false, ignore_eos = false, info = false;
    int n_predict = 128, threads = 0, n_ctx = 0;
    std::vector<std::string> server_args;
};

static double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static std::string self_path(const char * argv0) {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n > 0) {
        return std::string(buf, n);
    }
    if (realpath(argv0, buf) != nullptr) {  // no /proc: argv[0] with a slash, else the PATH
        return buf;
    }
    const char * path = getenv("PATH");
    std::string dirs = path ? path : "";
    for (size_t start = 0; start <= dirs.size();) {
        size_t end = dirs.find(':', start);
        end = end == std::string::npos ? dirs.size() : end;
        std::string candidate = dirs.substr(start, end - start) + "/" + argv0;
        if (access(candidate.c_str(), X_OK) == 0 && realpath(candidate.c_str(), buf) != nullptr) {
            return buf;
        }
        start = end + 1;
    }
    return argv0;
}

// the embedded GGUF's offset and size, from the trailer; false when this runtime holds no model
static bool read_trailer(const std::string & path, uint64_t & offset, uint64_t & size) {
    FILE * f = fopen(path.c_str(), "rb");
    if (!f) {
        return false;
    }
    unsigned char t[24], head[4] = {0};
    bool ok = fseeko(f, -24, SEEK_END) == 0 && fread(t, 1, 24, f) == 24 && memcmp(t + 16, MAGIC, 8) == 0;
    if (ok) {
        offset = size = 0;
        for (int i = 7; i >= 0; --i) {
            offset = (offset << 8) | t[i];
            size = (size << 8) | t[8 + i];
        }
        ok = fseeko(f, (off_t) offset, SEEK_SET) == 0 && fread(head, 1, 4, f) == 4 && memcmp(head, "GGUF", 4) == 0;
    }
    fclose(f);
    return ok;
}

// Python's bytes.decode("utf-8", errors="ignore"), streamed: complete characters are moved to `out`,
// invalid bytes dropped, an unfinished character kept for the next call (dropped when `final`).
static void utf8_drain(std::string & pending, std::string & out, bool final) {
    size_t i = 0, n = pending.size();
    while (i < n) {
        const unsigned char c = pending[i];
        if (c < 0x80 || c < 0xC2 || c > 0xF4) {  // ASCII is kept; a byte that starts nothing is dropped
            if (c < 0x80) {
                out += (char) c;
            }
            ++i;
            continue;
        }
        const size_t need = c <= 0xDF ? 1 : c <= 0xEF ? 2 : 3;
        const unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;  // no overlong forms
        const unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;  // no surrogates, nothing > U+10FFFF
        size_t j = 1;
        bool bad = false;
        for (; j <= need && i + j < n; ++j) {
            const unsigned char d = pending[i + j];
            if (d < (j == 1 ? lo : 0x80) || d > (j == 1 ? hi : 0xBF)) {
                bad = true;
                break;
            }
        }
        if (bad) {
            i += j;  // the start byte and its valid continuations are dropped; resume at the bad byte
        } else if (j <= need) {
            if (!final) {
                break;
            }
            i = n;
        } else {
            out.append(pending, i, need + 1);
            i += need + 1;
        }
    }
    pending.erase(0, i);
}

struct engine {
    llama_model * model = nullptr;
    llama_context * ctx = nullptr;
    const llama_vocab * vocab = nullptr;
    common_chat_templates_ptr templates;
    bool has_template = false;
    double load_s = 0;
};

static bool load(engine & e, const std::string & path, const options & o) {
    const double t0 = now_s();
    llama_model_params mp = llama_model_default_params();
    mp.use_extra_bufts = false;  // as codeladder's llamacpp backend: no repacked layouts, identical numerics
    e.model = llama_model_load_from_file(path.c_str(), mp);
    if (!e.model) {
        return false;
    }
    e.vocab = llama_model_get_vocab(e.model);
    llama_context_params cp = llama_context_default_params();  // as llama-cpp-python's Llama(n_ctx=0)
    const int n_ctx = o.n_ctx > 0 ? o.n_ctx : llama_model_n_ctx_train(e.model);
    const int threads = o.threads > 0 ? o.threads : (int) std::max(1u, std::thread::hardware_concurrency());
    cp.n_ctx = n_ctx;
    cp.n_batch = std::min(n_ctx, 512);
    cp.n_ubatch = std::min<int>(cp.n_batch, 512);
    cp.n_threads = cp.n_threads_batch = threads;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.no_perf = true;
    e.ctx = llama_init_from_model(e.model, cp);
    if (!e.ctx) {
        return false;
    }
    e.has_template = llama_model_chat_template(e.model, nullptr) != nullptr;
    e.templates = common_chat_templates_init(e.model, "");  // without a template: llama.cpp's ChatML
    e.load_s = now_s() - t0;
    return true;
}

static std::string render(engine & e, const std::string & prompt, bool chat) {
    if (!chat) {
        return prompt;
    }
    common_chat_templates_inputs inputs;
    common_chat_msg msg;
    msg.role = "user";
    msg.content = prompt;
    inputs.messages = {msg};
    inputs.add_generation_prompt = true;
    inputs.use_jinja = true;
    return common_chat_templates_apply(e.templates.get(), inputs).prompt;
}

static std::string piece(const llama_vocab * vocab, llama_token token) {
    std::string out(64, '\0');
    int n = llama_token_to_piece(vocab, token, out.data(), (int) out.size(), 0, false);
    if (n < 0) {
        out.resize(-n);
        n = llama_token_to_piece(vocab, token, out.data(), (int) out.size(), 0, false);
    }
    out.resize(std::max(n, 0));
    return out;
}

// greedy completion of `text`, streamed to stdout; the text printed is llama-cpp-python's completion text
static int generate(engine & e, const std::string & text, const options & o, bool chat) {
    const double t0 = now_s();
    std::vector<llama_token> tokens = common_tokenize(e.vocab, render(e, text, chat), false, true);
    const int n_ctx = (int) llama_n_ctx(e.ctx), n_batch = (int) llama_n_batch(e.ctx);
    if (tokens.empty() || (int) tokens.size() >= n_ctx) {
        fprintf(stderr, "error: the prompt is %zu tokens; it must be 1 to %d\n", tokens.size(), n_ctx - 1);
        return 1;
    }
    const int n_predict = std::min(o.n_predict, n_ctx - (int) tokens.size());  // as llama-cpp-python
    llama_memory_clear(llama_get_memory(e.ctx), true);
    for (size_t i = 0; i < tokens.size(); i += n_batch) {
        const int n = (int) std::min<size_t>(n_batch, tokens.size() - i);
        if (llama_decode(e.ctx, llama_batch_get_one(tokens.data() + i, n)) != 0) {
            fprintf(stderr, "error: llama_decode failed on the prompt\n");
            return 1;
        }
    }
    const double t1 = now_s();
    llama_sampler * smpl = llama_sampler_chain_init(llama_sampler_chain_default_params());
    llama_sampler_chain_add(smpl, llama_sampler_init_greedy());
    std::string pending, out;
    int generated = 0;
    while (generated < n_predict) {
        llama_token tok = llama_sampler_sample(smpl, e.ctx, -1);
        if (llama_vocab_is_eog(e.vocab, tok) && !o.ignore_eos) {
            break;
        }
        std::string p = piece(e.vocab, tok);
        if (generated == 0 && tok == llama_vocab_bos(e.vocab) && !p.empty() && p[0] == ' ') {
            p.erase(0, 1);  // llama-cpp-python's detokenize drops this space too
        }
        pending += p;
        utf8_drain(pending, out, false);
        fputs(out.c_str(), stdout), fflush(stdout), out.clear();
        if (++generated >= n_predict) {
            break;
        }
        if (llama_decode(e.ctx, llama_batch_get_one(&tok, 1)) != 0) {
            fprintf(stderr, "error: llama_decode failed\n");
            break;
        }
    }
    utf8_drain(pending, out, true);
    fputs(out.c_str(), stdout), fflush(stdout);
    llama_sampler_free(smpl);
    const double t2 = now_s();
    if (o.timings) {
        fprintf(stderr, "{\"load_s\": %.4f, \"prompt_tokens\": %zu, \"prompt_s\": %.4f, \"completion_tokens\": %d, "
                "\"decode_s\": %.4f, \"decode_tok_s\": %.2f}\n", e.load_s, tokens.size(), t1 - t0, generated,
                t2 - t1, generated > 1 ? (generated - 1) / (t2 - t1) : 0.0);
    }
    return 0;
}

static bool use_chat(const engine & e, const options & o) {
    return o.mode == "chat" || (o.mode == "auto" && e.has_template);
}

static int interactive(engine & e, const options & o) {
    const bool chat = use_chat(e, o);
    fprintf(stderr, "codeladder runtime: greedy %s, up to %d new tokens a prompt. One prompt a line (end a line "
            "with \\ to continue it); Ctrl-D quits.\n", chat ? "chat (the model's template)" : "completion",
            o.n_predict);
    std::string line, prompt;
    while (true) {
        fputs(prompt.empty() ? ">>> " : "... ", stderr);
        if (!std::getline(std::cin, line)) {
            fputs("\n", stderr);
            return 0;
        }
        if (!line.empty() && line.back() == '\\') {
            prompt += line.substr(0, line.size() - 1) + "\n";
            continue;
        }
        prompt += line;
        if (!prompt.empty()) {
            generate(e, prompt, o, chat);
            fputs("\n", stdout), fflush(stdout);
        }
        prompt.clear();
    }
}

static void usage(const char * prog) {
    printf("usage: %s [--prompt TEXT] [-n N] [--mode auto|chat|completion] [--threads N] [--ctx N] [--timings]\n"
           "       %s --server [--host H] [--port P] [llama-server options]\n"
           "       %s --info | --version | --help\n\n"
           "Runs the model inside this file (llama.cpp, CPU). --prompt prints the greedy completion of TEXT (as\n"
           "`ladder run` does on the GGUF; --mode auto is chat when the model has a chat template); with no\n"
           "--prompt it reads prompts interactively; --server serves the OpenAI-compatible API.\n", prog, prog, prog);
}

static bool parse(int argc, char ** argv, options & o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&](std::string & dst) {
            if (i + 1 >= argc) {
                fprintf(stderr, "error: %s needs a value\n", a.c_str());
                exit(2);
            }
            dst = argv[++i];
        };
        auto number = [&](int & dst) {
            std::string v;
            value(v);
            char * end = nullptr;
            long x = strtol(v.c_str(), &end, 10);
            if (*end != '\0' || x < 0 || x > INT_MAX) {
                fprintf(stderr, "error: %s %s: expected a whole number\n", a.c_str(), v.c_str());
                exit(2);
            }
            dst = (int) x;
        };
        if (a == "-p" || a == "--prompt") { value(o.prompt); o.has_prompt = true; }
        else if (a == "-n" || a == "--max-new-tokens" || a == "--n-predict") { number(o.n_predict); }
        else if (a == "--mode") { value(o.mode); }
        else if (a == "-t" || a == "--threads") { number(o.threads); }
        else if (a == "-c" || a == "--ctx") { number(o.n_ctx); }
        else if (a == "--server") { o.server = true; }
        else if (a == "--host") { value(o.host); }
        else if (a == "--port") { value(o.port); }
        else if (a == "--timings") { o.timings = true; }
        else if (a == "--ignore-eos") { o.ignore_eos = true; }
        else if (a == "--verbose") { o.verbose = true; }
        else if (a == "--info") { o.info = true; }
        else if (a == "--version") { printf("codeladder runtime, llama.cpp build %d (%s)\n", llama_build_number(),
                                            llama_commit()); exit(0); }
        else if (a == "-h" || a == "--help") { usage(argv[0]); exit(0); }
        else if (o.server) { o.server_args.push_back(a); }
        else { fprintf(stderr, "error: unknown option %s (see --help)\n", a.c_str()); return false; }
    }
    if (o.mode != "auto" && o.mode != "chat" && o.mode != "completion") {
        fprintf(stderr, "error: --mode %s: choose auto, chat or completion\n", o.mode.c_str());
        return false;
    }
    return true;
}

static void quiet_log(enum ggml_log_level level, const char * text, void *) {
    if (level == GGML_LOG_LEVEL_ERROR) {
        fputs(text, stderr);
    }
}

int main(int argc, char ** argv) {
    options o;
    if (!parse(argc, argv, o)) {
        return 2;
    }
    const std::string self = self_path(argv[0]);
    uint64_t offset = 0, size = 0;
    if (!read_trailer(self, offset, size)) {
        fprintf(stderr, "error: %s holds no model (build one with `ladder compile MODEL -o FILE`)\n", self.c_str());
        return 1;
    }
    gguf_embedded_path = self.c_str();
    gguf_embedded_offset = offset;
    if (o.info) {
        printf("{\"runtime_bytes\": %llu, \"gguf_offset\": %llu, \"gguf_bytes\": %llu, \"llama_cpp_build\": %d}\n",
               (unsigned long long) offset, (unsigned long long) offset, (unsigned long long) size,
               llama_build_number());
        return 0;
    }
    if (o.server) {
        const char * base = strrchr(self.c_str(), '/');
        std::vector<std::string> args = {argv[0], "-m", self, "--host", o.host, "--port", o.port, "--alias",
                                         base ? base + 1 : self, "--no-ui", "--no-repack"};
        args.insert(args.end(), o.server_args.begin(), o.server_args.end());
        if (o.threads > 0) {
            args.insert(args.end(), {"--threads", std::to_string(o.threads)});
        }
        if (o.n_ctx > 0) {
            args.insert(args.end(), {"--ctx-size", std::to_string(o.n_ctx)});
        }
        std::vector<char *> cargs;
        for (auto & s : args) {
            cargs.push_back(s.data());
        }
        cargs.push_back(nullptr);
        return llama_server((int) args.size(), cargs.data());
    }
    if (!o.verbose) {
        llama_log_set(quiet_log, nullptr);
        common_log_pause(common_log_main());
    }
    llama_backend_init();
    engine e;
    if (!load(e, self, o)) {
        fprintf(stderr, "error: llama.cpp could not load the model inside %s\n", self.c_str());
        return 1;
    }
    int rc;
    try {
        rc = o.has_prompt ? generate(e, o.prompt, o, use_chat(e, o)) : interactive(e, o);
        if (o.has_prompt && isatty(fileno(stdout))) {
            fputs("\n", stdout);
        }
    } catch (const std::exception & err) {
        fprintf(stderr, "error: %s\n", err.what());
        rc = 1;
    }
    llama_free(e.ctx);
    llama_model_free(e.model);
    llama_backend_free();
    return rc;
}
