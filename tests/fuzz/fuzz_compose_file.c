/* libFuzzer target: compose_file_parse on arbitrary bytes must return, never crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "compose_file.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct compose_file *f = NULL;
	size_t i, j;
	int err;

	err = compose_file_parse(&f, (const char *)data, size);
	if (err == 0) {
		/* Touch the whole model so ASan sees any bad pointer in it. */
		if (!f || f->n_services == 0)
			__builtin_trap();
		for (i = 0; i < f->n_services; i++) {
			const struct compose_service *s = &f->services[i];

			if (!s->name || !s->image || s->line <= 0 || s->image_line <= 0 ||
			    compose_file_service(f, s->name) == NULL)
				__builtin_trap();
			for (j = 0; j < s->n_environment; j++)
				(void)strlen(s->environment[j].name);
			for (j = 0; j < s->n_labels; j++)
				(void)strlen(s->labels[j].name);
			for (j = 0; j < s->n_ports; j++)
				(void)strlen(s->ports[j].text);
			for (j = 0; j < s->n_volumes; j++)
				(void)strlen(s->volumes[j].target);
			for (j = 0; j < s->n_depends_on; j++)
				(void)strlen(s->depends_on[j].service);
		}
		for (i = 0; i < f->n_volumes; i++)
			(void)strlen(f->volumes[i].name);
		for (i = 0; i < f->n_networks; i++)
			(void)strlen(f->networks[i].name);
	} else {
		/* Every failure has a message, and a failure leaves no model behind. */
		if (f || ovr_err_msg(err)[0] == '\0')
			__builtin_trap();
	}
	compose_file_free(f);
	return 0;
}
