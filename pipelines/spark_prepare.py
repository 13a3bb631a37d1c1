"""``recsys prepare --engine spark`` as a spark-submit application.

    spark-submit --master yarn --deploy-mode client [--conf KEY=VALUE ...] \
        pipelines/spark_prepare.py --data s3a://bucket/events/ --out s3a://bucket/sequences/ \
        [--config pipelines/configs/my-data.toml] [--set sessions.gap_minutes=60]

The arguments are those of ``recsys prepare`` (without ``--engine``); the
master and Spark settings come from spark-submit. recsys must be installed
where the driver runs (client mode); the executors run only Spark's own
functions, so they need no recsys.
"""

import sys

from recsys.cli import main

if __name__ == "__main__":
    main(["prepare", "--engine", "spark", *sys.argv[1:]], prog_name="spark_prepare.py")
