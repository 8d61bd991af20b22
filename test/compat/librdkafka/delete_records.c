/* DeleteRecords through librdkafka's admin API (rd_kafka_DeleteRecords).
 *
 * Usage: delete_records BOOTSTRAP TOPIC PARTITION BEFORE
 * Prints the partition's new low watermark (or the error) and exits
 * non-zero on failure. Build: cc -o delete_records delete_records.c -lrdkafka
 */
#include <stdio.h>
#include <stdlib.h>
#include <librdkafka/rdkafka.h>

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: %s BOOTSTRAP TOPIC PARTITION BEFORE\n", argv[0]);
		return 2;
	}
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "%s\n", errstr);
		return 1;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!rk) {
		fprintf(stderr, "%s\n", errstr);
		return 1;
	}
	rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(offsets, argv[2], atoi(argv[3]))->offset = atoll(argv[4]);
	rd_kafka_DeleteRecords_t *del = rd_kafka_DeleteRecords_new(offsets);
	rd_kafka_topic_partition_list_destroy(offsets);

	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETERECORDS);
	rd_kafka_AdminOptions_set_operation_timeout(opts, 10000, errstr, sizeof errstr);
	rd_kafka_DeleteRecords(rk, &del, 1, opts, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
	int rc = 1;
	if (!ev) {
		fprintf(stderr, "no answer within 30s\n");
	} else if (rd_kafka_event_error(ev)) {
		fprintf(stderr, "DeleteRecords: %s\n", rd_kafka_event_error_string(ev));
	} else {
		const rd_kafka_topic_partition_list_t *res =
		    rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
		for (int i = 0; i < res->cnt; i++) {
			const rd_kafka_topic_partition_t *p = &res->elems[i];
			if (p->err) {
				printf("%s-%d error %s\n", p->topic, p->partition, rd_kafka_err2str(p->err));
			} else {
				printf("%s-%d low watermark %lld\n", p->topic, p->partition, (long long)p->offset);
				rc = 0;
			}
		}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_DeleteRecords_destroy(del);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}
