/*
 * An ALSA capture device for tests that offers only the formats it is told to, and plays a
 * raw file at real time: what a USB microphone with a fixed native format looks like to
 * libasound. ALSA's own `file` plugin accepts whatever the application asks for, so it
 * cannot stand in for such a device.
 *
 *   pcm_type.fixture { lib "/path/to/libasound_module_pcm_fixture.so" }
 *   pcm.mic48 { type fixture  file "/path/x.raw"  rate 48000  channels 2  format "S16_LE" }
 *
 * The file holds interleaved samples in that format. After its end the device delivers
 * silence. When the file disappears (renamed away) the device behaves as an unplugged USB
 * microphone: reads fail with -ENODEV and opening fails until the file is back.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <alsa/asoundlib.h>
#include <alsa/pcm_external.h>

typedef struct {
	snd_pcm_ioplug_t io;
	char *path;
	int file_fd;
	int timer_fd;
	unsigned int rate, channels;
	snd_pcm_format_t format;
	struct timespec started;
	snd_pcm_uframes_t hw_frames;
} fixture_t;

static int file_present(const fixture_t *f)
{
	struct stat st;
	return stat(f->path, &st) == 0;
}

static uint64_t elapsed_frames(const fixture_t *f)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint64_t ns = (uint64_t)(now.tv_sec - f->started.tv_sec) * 1000000000ull
		+ (uint64_t)now.tv_nsec - (uint64_t)f->started.tv_nsec;
	return ns * f->rate / 1000000000ull;
}

static int fixture_start(snd_pcm_ioplug_t *io)
{
	fixture_t *f = io->private_data;
	uint64_t period_ns = (uint64_t)io->period_size * 1000000000ull / f->rate;
	struct itimerspec spec = {
		.it_interval = { period_ns / 1000000000ull, period_ns % 1000000000ull },
		.it_value = { period_ns / 1000000000ull, period_ns % 1000000000ull },
	};
	clock_gettime(CLOCK_MONOTONIC, &f->started);
	f->hw_frames = 0;
	return timerfd_settime(f->timer_fd, 0, &spec, NULL) < 0 ? -errno : 0;
}

static int fixture_stop(snd_pcm_ioplug_t *io)
{
	fixture_t *f = io->private_data;
	struct itimerspec off = { { 0, 0 }, { 0, 0 } };
	timerfd_settime(f->timer_fd, 0, &off, NULL);
	return 0;
}

static snd_pcm_sframes_t fixture_pointer(snd_pcm_ioplug_t *io)
{
	fixture_t *f = io->private_data;
	if (!file_present(f)) {
		snd_pcm_ioplug_set_state(io, SND_PCM_STATE_DISCONNECTED);
		return -ENODEV;
	}
	if (io->state != SND_PCM_STATE_RUNNING)
		return f->hw_frames % io->buffer_size;
	f->hw_frames = elapsed_frames(f);
	return f->hw_frames % io->buffer_size;
}

static snd_pcm_sframes_t fixture_transfer(snd_pcm_ioplug_t *io, const snd_pcm_channel_area_t *areas,
					  snd_pcm_uframes_t offset, snd_pcm_uframes_t size)
{
	fixture_t *f = io->private_data;
	size_t frame_bytes = (size_t)snd_pcm_format_physical_width(f->format) / 8 * f->channels;
	char *dst = (char *)areas[0].addr + (areas[0].first + areas[0].step * offset) / 8;
	size_t want = size * frame_bytes, got = 0;
	while (got < want) {
		ssize_t n = read(f->file_fd, dst + got, want - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < want)
		snd_pcm_format_set_silence(f->format, dst + got, (unsigned int)((want - got) / (frame_bytes / f->channels)));
	return (snd_pcm_sframes_t)size;
}

static int fixture_prepare(snd_pcm_ioplug_t *io)
{
	fixture_t *f = io->private_data;
	return file_present(f) ? 0 : -ENODEV;
}

static int fixture_poll_revents(snd_pcm_ioplug_t *io, struct pollfd *pfd, unsigned int nfds,
				unsigned short *revents)
{
	fixture_t *f = io->private_data;
	uint64_t expirations;
	(void)nfds;
	if (read(pfd[0].fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
		return -errno;
	*revents = file_present(f) ? POLLIN : (POLLIN | POLLERR);
	return 0;
}

static int fixture_close(snd_pcm_ioplug_t *io)
{
	fixture_t *f = io->private_data;
	close(f->file_fd);
	close(f->timer_fd);
	free(f->path);
	free(f);
	return 0;
}

static const snd_pcm_ioplug_callback_t fixture_callback = {
	.start = fixture_start,
	.stop = fixture_stop,
	.pointer = fixture_pointer,
	.transfer = fixture_transfer,
	.prepare = fixture_prepare,
	.poll_revents = fixture_poll_revents,
	.close = fixture_close,
};

static int set_constraints(fixture_t *f)
{
	unsigned int access[] = { SND_PCM_ACCESS_RW_INTERLEAVED };
	unsigned int formats[] = { (unsigned int)f->format };
	unsigned int frame_bytes = (unsigned int)snd_pcm_format_physical_width(f->format) / 8 * f->channels;
	int err;
	if ((err = snd_pcm_ioplug_set_param_list(&f->io, SND_PCM_IOPLUG_HW_ACCESS, 1, access)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_list(&f->io, SND_PCM_IOPLUG_HW_FORMAT, 1, formats)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_list(&f->io, SND_PCM_IOPLUG_HW_CHANNELS, 1, &f->channels)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_list(&f->io, SND_PCM_IOPLUG_HW_RATE, 1, &f->rate)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(&f->io, SND_PCM_IOPLUG_HW_PERIOD_BYTES,
						   frame_bytes * 16, frame_bytes * f->rate)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(&f->io, SND_PCM_IOPLUG_HW_PERIODS, 2, 64)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(&f->io, SND_PCM_IOPLUG_HW_BUFFER_BYTES,
						   frame_bytes * 32, frame_bytes * f->rate * 4)) < 0)
		return err;
	return 0;
}

SND_PCM_PLUGIN_DEFINE_FUNC(fixture)
{
	snd_config_iterator_t i, next;
	const char *path = NULL, *format = "S16_LE";
	long rate = 16000, channels = 1;
	fixture_t *f;
	int err;

	snd_config_for_each(i, next, conf) {
		snd_config_t *n = snd_config_iterator_entry(i);
		const char *id;
		if (snd_config_get_id(n, &id) < 0)
			continue;
		if (!strcmp(id, "comment") || !strcmp(id, "type") || !strcmp(id, "hint"))
			continue;
		if (!strcmp(id, "file")) { snd_config_get_string(n, &path); continue; }
		if (!strcmp(id, "format")) { snd_config_get_string(n, &format); continue; }
		if (!strcmp(id, "rate")) { snd_config_get_integer(n, &rate); continue; }
		if (!strcmp(id, "channels")) { snd_config_get_integer(n, &channels); continue; }
		SNDERR("fixture: unknown field %s", id);
		return -EINVAL;
	}
	if (stream != SND_PCM_STREAM_CAPTURE || path == NULL)
		return -EINVAL;
	f = calloc(1, sizeof *f);
	if (f == NULL)
		return -ENOMEM;
	f->path = strdup(path);
	f->rate = (unsigned int)rate;
	f->channels = (unsigned int)channels;
	f->format = snd_pcm_format_value(format);
	if (f->format == SND_PCM_FORMAT_UNKNOWN) {
		SNDERR("fixture: unknown format %s", format);
		free(f->path);
		free(f);
		return -EINVAL;
	}
	f->file_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->file_fd < 0) {
		err = -ENODEV;  /* an unplugged microphone */
		free(f->path);
		free(f);
		return err;
	}
	f->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	f->io.version = SND_PCM_IOPLUG_VERSION;
	f->io.name = "fixed-format test microphone";
	f->io.callback = &fixture_callback;
	f->io.private_data = f;
	f->io.poll_fd = f->timer_fd;
	f->io.poll_events = POLLIN;
	f->io.mmap_rw = 0;  /* read/write only: stack ALSA's mmap_emul on top for plugins that need mmap */
	if ((err = snd_pcm_ioplug_create(&f->io, name, stream, mode)) < 0) {
		close(f->file_fd);
		close(f->timer_fd);
		free(f->path);
		free(f);
		return err;
	}
	if ((err = set_constraints(f)) < 0) {
		snd_pcm_ioplug_delete(&f->io);
		return err;
	}
	*pcmp = f->io.pcm;
	return 0;
}

SND_PCM_PLUGIN_SYMBOL(fixture);
